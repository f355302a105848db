"""The five questions of DESIGN.md, answered from a call's records alone.

One pure function, :func:`explain`, over a :class:`~turngate.store.base.CallRecord`:
``turngate calls why`` prints it and the console's call page shows it, so the
terminal and the page can never disagree. It never re-runs a gate, so its answer
is what was decided, not what the current policy would decide.

Conventions it relies on, for whoever writes the outbox rows:

- a ``crm_note`` payload carries ``reason`` (the handoff reason code it states)
  and, ideally, ``decision_seq`` (the handoff decision it came from);
- a ``follow_up`` payload carries ``evidence`` (what triggers the task) and
  ``reason``/``task``; without ``evidence`` the whole payload is shown.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.decisions import Decision, is_handoff
from .base import CallRecord, OutboxRecord

__all__ = ["QUESTIONS", "explain", "NOT_HANDOFF"]

QUESTIONS = {
    "route": "Why was this caller routed to this path?",
    "guard": "Which guard restricted the response?",
    "fallback": "When did model fallback occur, and why?",
    "handoff": "Does the human-handoff reason match the CRM note?",
    "follow_up": "What evidence will trigger the next follow-up task?",
}




def _brief(d: Decision, **extra: Any) -> dict[str, Any]:
    return {"seq": d.seq, "at_ms": d.at_ms, "gate": d.gate, "outcome": d.outcome, "reason": d.reason,
            "rule": d.rule, **extra}


def explain(record: CallRecord) -> dict[str, Any]:
    """The five answers for one call, each with the records it rests on."""
    ds = record.decisions

    routes = [d for d in ds if d.gate == "route"]
    if routes:
        last = routes[-1]
        conf = last.evidence.get("confidence")
        name = lambda d: d.evidence.get("route") or d.rule.removeprefix("route.")  # noqa: E731
        changes = sum(1 for a, b in zip(routes, routes[1:]) if name(a) != name(b))
        route_answer = (
            f"routed to {name(last)!r} by rule {last.rule!r} ({last.reason}"
            + (f", confidence {conf}" if conf is not None else "")
            + f") at {last.at_ms} ms; {len(routes)} route decision(s), {changes} change(s) of route"
        )
    else:
        route_answer = "no route decision was recorded"

    guards = [d for d in ds if d.gate == "guard"]
    restricted = [d for d in guards if d.outcome != "allow"]
    if restricted:
        guard_answer = "; ".join(f"{d.outcome} by {d.rule} ({d.reason}) at {d.at_ms} ms" for d in restricted)
    else:
        guard_answer = f"no guard restricted a response ({len(guards)} guard decision(s), all allow)"

    fallbacks = [d for d in ds if d.gate == "model" and d.outcome.startswith("fallback")]
    if fallbacks:
        fb_answer = "; ".join(f"at {d.at_ms} ms: {d.reason} (rule {d.rule})" for d in fallbacks)
    else:
        fb_answer = "no model fallback occurred"

    handoff = _handoff_match(ds, record.outbox)

    follow_ups = [o for o in record.outbox if o.kind == "follow_up"]
    fu_records = [
        {"key": o.key, "status": o.status, "reason": o.payload.get("reason") or o.payload.get("task"),
         "evidence": o.payload.get("evidence", o.payload)}
        for o in follow_ups
    ]
    if fu_records:
        fu_answer = "; ".join(f"{r['reason'] or r['key']}: {json.dumps(r['evidence'], default=str)}" for r in fu_records)
    else:
        fu_answer = "no follow-up task was queued"

    return {
        "call_id": record.call.call_id,
        "route": {"question": QUESTIONS["route"], "answer": route_answer,
                  "records": [_brief(d, confidence=d.evidence.get("confidence")) for d in routes]},
        "guard": {"question": QUESTIONS["guard"], "answer": guard_answer,
                  "records": [_brief(d, evidence=d.evidence) for d in restricted]},
        "fallback": {"question": QUESTIONS["fallback"], "answer": fb_answer,
                     "records": [_brief(d, evidence=d.evidence) for d in fallbacks]},
        "handoff": {"question": QUESTIONS["handoff"], **handoff},
        "follow_up": {"question": QUESTIONS["follow_up"], "answer": fu_answer, "records": fu_records},
    }


def _handoff_match(ds: tuple[Decision, ...], outbox: tuple[OutboxRecord, ...]) -> dict[str, Any]:
    handoffs = [d for d in ds if is_handoff(d)]
    notes = [o for o in outbox if o.kind == "crm_note"]
    by_seq = {d.seq: d for d in ds}
    checks = []
    for note in notes:
        reason = note.payload.get("reason")
        seq = note.payload.get("decision_seq")
        if seq is not None:
            source = by_seq.get(seq)
            match = source is not None and source.reason == reason
        else:
            source = next((d for d in reversed(handoffs) if d.reason == reason), None)
            match = source is not None
        checks.append({"key": note.key, "note_reason": reason, "decision_seq": seq,
                       "decision_reason": source.reason if source else None, "match": match})
    if not notes and not handoffs:
        match_all: bool | None = None
        answer = "no handoff was decided and no CRM note was queued"
    elif not notes:
        match_all = False
        answer = f"handoff decided ({handoffs[-1].reason}) but no CRM note was queued"
    else:
        match_all = all(c["match"] for c in checks)
        answer = "; ".join(
            f"CRM note {c['key']} says {c['note_reason']!r}, decision says {c['decision_reason']!r}: "
            + ("match" if c["match"] else "MISMATCH")
            for c in checks
        )
    return {"answer": answer, "match": match_all,
            "records": [_brief(d, evidence=d.evidence) for d in handoffs], "crm_notes": checks}


