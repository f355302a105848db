"""Checking a call against its scenario's expectations, from the gateway's own decision records.

What the simulator reads from the decisions (the contract with the gateway):

- the final route: the last ``route`` decision's ``evidence["route"]`` (else its outcome);
- a handoff: a ``handoff`` decision whose outcome is ``handoff`` or ``transfer``;
- a barge-in episode: ``turn`` decisions after the caller's speech onset with outcome
  ``pause`` (playback stopped, confirming), then ``abandon`` or ``resume``; an outcome
  of ``suppress``/``suppressed`` (sound over playback that did not even pause it) counts
  as ``suppressed``. ``heard_text`` is read from the evidence of the abandon (else the pause).

Each expectation becomes one ``Check`` with a message that says what was expected
and what the call showed, so a failing demo reads as a diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .scenario import Expect

HANDOFF_OUTCOMES = ("handoff", "transfer")
SUPPRESSED_OUTCOMES = ("suppress", "suppressed")
DECISION_CLOCK_SLACK_MS = 300  # the gateway's call clock and the caller's audio clock start a few frames apart


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeIn:
    """One caller utterance that started over the bot's audio, and what the gateway did."""

    said: str
    at_ms: int  # speech onset, call-relative audio time
    reaction_ms: int | None  # clear arrival minus onset, audio time; None: no clear came
    outcome: str  # abandon | resume | suppressed | paused (never resolved) | none
    heard_text: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"at_ms": self.at_ms, "reaction_ms": self.reaction_ms, "heard_text": self.heard_text,
                "outcome": self.outcome, "said": self.said}


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9']+", " ", s.lower()).split())


def barge_in_episode(decisions: Sequence[Mapping[str, Any]], start_ms: int, end_ms: int | None) -> tuple[str, str | None]:
    """The outcome and heard text of the turn decisions in ``[start_ms, end_ms)`` (slack applied)."""
    lo = start_ms - DECISION_CLOCK_SLACK_MS
    hi = None if end_ms is None else end_ms - DECISION_CLOCK_SLACK_MS
    window = [d for d in decisions if d.get("gate") == "turn"
              and d.get("at_ms", 0) >= lo and (hi is None or d.get("at_ms", 0) < hi)]
    outcome, heard, paused = "none", None, False
    for d in window:
        o = d.get("outcome")
        ev = d.get("evidence") or {}
        if o == "pause":
            paused = True
            if heard is None and isinstance(ev.get("heard_text"), str):
                heard = ev["heard_text"]
        elif o in ("abandon", "resume") or o in SUPPRESSED_OUTCOMES:
            outcome = "suppressed" if o in SUPPRESSED_OUTCOMES else o
            if o == "abandon" and isinstance(ev.get("heard_text"), str):
                heard = ev["heard_text"]
            break
    if outcome == "none" and paused:
        outcome = "paused"
    return outcome, heard


def final_route(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    routes = [d for d in decisions if d.get("gate") == "route"]
    if not routes:
        return None
    last = routes[-1]
    ev = last.get("evidence") or {}
    return str(ev.get("route") or last.get("outcome"))


def barge_in_gaps(spans: Sequence[Any], utterances: Sequence[Any], *, after_ms: int = 1000) -> list[int]:
    """Per caller utterance that started over the bot: the longest silence in the bot's
    played audio that began between the utterance's start and ``after_ms`` past its end
    (0: the bot never went quiet). A silence that never ended (the bot stopped for good)
    is not a gap of a resumed answer and is left out."""
    out = []
    for u in utterances:
        gaps = [b.start_ms - a.end_ms for a, b in zip(spans, spans[1:])
                if u.start_ms - 100 <= a.end_ms <= u.end_ms + after_ms and b.start_ms > a.end_ms]
        out.append(max(gaps, default=0))
    return out


def check(expect: Expect, *, decisions: Sequence[Mapping[str, Any]], barge_ins: Sequence[BargeIn],
          context: Sequence[Mapping[str, Any]], transcript: Sequence[Any] = (),
          bot_spans: Sequence[Any] = (), barge_in_utterances: Sequence[Any] = ()) -> list[Check]:
    out: list[Check] = []
    if expect.max_barge_in_gap_ms is not None:
        gaps = barge_in_gaps(bot_spans, barge_in_utterances)
        worst = max(gaps, default=0)
        out.append(Check(name="barge-in gaps", passed=bool(gaps) and worst <= expect.max_barge_in_gap_ms,
                         detail=f"longest silence in the answer around each barge-in: {gaps} ms "
                                f"(at most {expect.max_barge_in_gap_ms})" if gaps else "no barge-in over the bot"))
    if expect.route is not None:
        got = final_route(decisions)
        seen = [str((d.get("evidence") or {}).get("route") or d.get("outcome")) for d in decisions if d.get("gate") == "route"]
        out.append(Check(name="route", passed=got == expect.route,
                         detail=f"expected final route {expect.route!r}, got {got!r} (route decisions: {seen or 'none'})"))
    if expect.handoff is not None:
        hs = [d for d in decisions if d.get("gate") == "handoff" and d.get("outcome") in HANDOFF_OUTCOMES]
        reasons = [d.get("reason") for d in hs]
        if expect.handoff is True:
            ok, want = bool(hs), "a handoff"
        elif expect.handoff is False:
            ok, want = not hs, "no handoff"
        else:
            ok, want = expect.handoff in reasons, f"a handoff with reason {expect.handoff!r}"
        out.append(Check(name="handoff", passed=ok,
                         detail=f"expected {want}; handoff decisions: {reasons or 'none'}"))
    for p in expect.guard:
        hit = any(p.matches(d) for d in decisions)
        seen = sorted({f"{d.get('outcome')}/{d.get('reason')}" for d in decisions if d.get("gate") == "guard"})
        out.append(Check(name=f"guard {p.outcome}" + (f"/{p.reason}" if p.reason else ""), passed=hit,
                         detail=f"expected a guard decision {p}; guard decisions seen: {seen or 'none'}"))
    if expect.barge_ins is not None:
        got = [b.outcome for b in barge_ins]
        want = ["|".join(w) for w in expect.barge_ins]
        ok = len(got) == len(want) and all(g in w for g, w in zip(got, expect.barge_ins))
        out.append(Check(name="barge_ins", passed=ok,
                         detail=f"expected barge-in outcomes {want}, got {got}"
                         + ("" if len(got) == len(want) else " (a different number of barge-ins)")))
    for p in expect.decisions:
        out.append(Check(name=f"decision {p.gate}/{p.outcome}", passed=any(p.matches(d) for d in decisions),
                         detail=f"expected a decision {p}"))
    for p in expect.no_decisions:
        bad = [d for d in decisions if p.matches(d)]
        out.append(Check(name=f"no decision {p.gate}/{p.outcome}", passed=not bad,
                         detail=f"expected no decision {p}" + (
                             f"; found {len(bad)}, first at {bad[0].get('at_ms')} ms (reason {bad[0].get('reason')})"
                             if bad else "")))
    if expect.heard_text_contains or expect.heard_text_excludes:
        heard = [b.heard_text for b in barge_ins if b.outcome == "abandon" and b.heard_text is not None]
        if not heard:
            out.append(Check(name="heard_text", passed=False,
                             detail="no abandoned barge-in with heard_text in its decision evidence"))
        for s in expect.heard_text_contains:
            ok = bool(heard) and all(_norm(s) in _norm(h) for h in heard)
            out.append(Check(name=f"heard_text contains {s!r}", passed=ok, detail=f"heard: {heard}"))
        for s in expect.heard_text_excludes:
            ok = bool(heard) and not any(_norm(s) in _norm(h) for h in heard)
            out.append(Check(name=f"heard_text excludes {s!r}", passed=ok, detail=f"heard: {heard}"))
    msgs = [str(m.get("content", "")) for m in context]
    for s in expect.context_contains:
        hit = any(_norm(s) in _norm(m) for m in msgs)
        out.append(Check(name=f"context contains {s!r}", passed=hit,
                         detail=f"{len(msgs)} context messages" + ("" if hit or not msgs else f"; last: {msgs[-1]!r}")))
    if expect.context_excludes:
        for s in expect.context_excludes:
            bad = [m for m in msgs if _norm(s) in _norm(m)]
            out.append(Check(name=f"context excludes {s!r}", passed=bool(msgs) and not bad,
                             detail=(f"found in a context message: {bad[0]!r}" if bad
                                     else f"{len(msgs)} context messages" if msgs else "the context is empty")))
    if expect.transcript_excludes:
        text = _norm(" ".join(str(t) for t in transcript))
        for s in expect.transcript_excludes:
            out.append(Check(name=f"transcript excludes {s!r}", passed=bool(transcript) and _norm(s) not in text,
                             detail=f"{len(transcript)} transcript entries" if transcript else "the transcript is empty"))
    return out
