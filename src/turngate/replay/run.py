"""Replay one recorded call through the core under a policy, and compare decisions.

The driver is the shell's loop without I/O: it builds a ``Call`` with the policy's
gatekeeper and turn parameters, feeds the recorded events at their recorded times,
and fires the core's own deadlines in between (``next_deadline``), as the shell's
timer would. Actions are not carried out; the events that answered them in the
call (mark echoes, model text, synthesized audio) are in the record.

So replay is exact until the first decision that changes: from there the recorded
answers may no longer fit what the new policy asked for (a generation that was never
started, marks of audio that was never sent), and later differences are marked as
following an earlier change.

Decisions are compared on (gate, outcome, reason, rule), aligned in order; times and
evidence are reported, not compared (a timer fires on time in replay, a few ms late
in a call).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.call import Call
from ..core.decisions import Decision
from ..core.events import FinalTranscript, TimerFired
from ..store.base import CallRecord
from .record import decode_event

__all__ = ["ReplayResult", "replay_call", "compare", "NotReplayable"]


class NotReplayable(Exception):
    """The call has no replay record (its policy did not keep one)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    call_id: str
    policy_version: str
    recorded: tuple[Decision, ...]
    replayed: tuple[Decision, ...]
    changes: tuple[dict[str, Any], ...]
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "policy_version": self.policy_version, "changed": len(self.changes),
                "recorded": len(self.recorded), "replayed": len(self.replayed),
                "record_truncated": self.truncated, "changes": list(self.changes)}


def _key(d: Decision) -> tuple[str, str, str, str]:
    return (d.gate, d.outcome, d.reason, d.rule)


def _brief(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"seq": d.seq, "at_ms": d.at_ms, "gate": d.gate, "outcome": d.outcome, "reason": d.reason,
            "rule": d.rule, "evidence": d.evidence}


def compare(recorded: tuple[Decision, ...], replayed: tuple[Decision, ...]) -> list[dict[str, Any]]:
    """The decisions that differ: ``changed`` (same place, other verdict), ``removed``, ``added``."""
    a, b = [_key(d) for d in recorded], [_key(d) for d in replayed]
    out: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        olds, news = list(recorded[i1:i2]), list(replayed[j1:j2])
        for k in range(max(len(olds), len(news))):
            old = olds[k] if k < len(olds) else None
            new = news[k] if k < len(news) else None
            kind = "changed" if old is not None and new is not None else ("removed" if new is None else "added")
            out.append({"change": kind, "after_earlier_change": bool(out), "was": _brief(old), "now": _brief(new)})
    return out


def replay_call(record: CallRecord, gatekeeper: Callable[[Any], Any], params: Any = None,
                *, policy_version: str = "", models: Any = None) -> ReplayResult:
    """Re-run ``record``'s events under ``gatekeeper`` (a per-call factory, as the server has)."""
    rec = record.summary.get("replay")
    if not rec or not rec.get("events"):
        raise NotReplayable(f"call {record.call.call_id} has no replay record "
                            "(its policy did not set retention.replay_events)")
    events = [decode_event(item) for item in rec["events"]]
    start = next((ev for _, ev in events if type(ev).__name__ == "CallStarted"), None)
    gates = gatekeeper(getattr(start, "parameters", {}) or {})
    call = Call(record.call.call_id, gates=gates, params=params, started_at=0.0, models=models)
    prefetch = getattr(gatekeeper, "prefetch", None)
    for t_ms, ev in events:
        now = t_ms / 1000.0
        for _ in range(1000):  # a deadline that never moves on is a core bug; do not spin on it
            deadline = call.next_deadline()
            if deadline is None or deadline > now:
                break
            call.handle(TimerFired(), deadline)
        if isinstance(ev, FinalTranscript) and prefetch is not None and ev.text:
            prefetch(ev.text)
        call.handle(ev, now)
    # Let the deadlines that were pending when the stream stopped run out.
    for _ in range(1000):
        deadline = call.next_deadline()
        if deadline is None:
            break
        call.handle(TimerFired(), deadline)
    replayed = tuple(call.decisions)
    return ReplayResult(call_id=record.call.call_id,
                        policy_version=policy_version or getattr(gates, "policy_version", ""),
                        recorded=record.decisions, replayed=replayed,
                        changes=tuple(compare(record.decisions, replayed)), truncated=bool(rec.get("truncated")))
