"""``turngate calls list|show|why``: call review from the store's records alone.

``why`` answers DESIGN.md's five questions by reading decisions and outbox rows;
it never re-runs a gate, so its answer is what was decided, not what the
current policy would decide. :func:`explain` does the reading (pure, over a
:class:`~turngate.store.base.CallRecord`); the rest renders.

Conventions ``why`` relies on, for whoever writes the outbox rows:

- a ``crm_note`` payload carries ``reason`` (the handoff reason code it states)
  and, ideally, ``decision_seq`` (the handoff decision it came from);
- a ``follow_up`` payload carries ``evidence`` (what triggers the task) and
  ``reason``/``task``; without ``evidence`` the whole payload is shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import Config
from ..core.decisions import Decision, is_handoff
from ..errors import ConfigError
from .base import CallRecord, OutboxRecord
from .sql import open_store

__all__ = ["calls_main", "explain"]

QUESTIONS = {
    "route": "Why was this caller routed to this path?",
    "guard": "Which guard restricted the response?",
    "fallback": "When did model fallback occur, and why?",
    "handoff": "Does the human-handoff reason match the CRM note?",
    "follow_up": "What evidence will trigger the next follow-up task?",
}



def calls_main(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.store or Config.from_env().store)
    except ConfigError as e:
        print(f"turngate calls: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a store that cannot be reached: say which, without a traceback
        print(f"turngate calls: cannot open store: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    try:
        match args.calls_command:
            case "list":
                return _list(store.list_calls(args.limit), as_json=args.json)
            case "show" | "why":
                record = store.get_call(args.call_id)
                if record is None:
                    print(f"turngate calls: no call {args.call_id!r} in store {store.url}", file=sys.stderr)
                    return 1
                if args.calls_command == "show":
                    return _show(record, as_json=args.json)
                return _why(record, as_json=args.json)
        print(f"turngate calls: unknown command {args.calls_command!r}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _console() -> Console:
    # Wide enough that call ids and reason codes are not folded when piped.
    return Console(width=160) if not sys.stdout.isatty() else Console()


def _dump(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def _list(calls: list[Any], *, as_json: bool) -> int:
    if as_json:
        _dump([c.to_dict() for c in calls])
        return 0
    table = Table(title=f"{len(calls)} call(s)")
    table.add_column("call id", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("duration", justify="right")
    table.add_column("outcome")
    table.add_column("decisions", justify="right")
    for c in calls:
        table.add_row(
            Text(c.call_id),
            c.started_at.strftime("%Y-%m-%d %H:%M:%S") if c.started_at else "-",
            f"{c.duration_s:.1f} s" if c.duration_s is not None else "-",
            Text(c.outcome or ("(in progress)" if c.ended_at is None else "-")),
            str(c.decision_count),
        )
    _console().print(table)
    return 0


def _show(record: CallRecord, *, as_json: bool) -> int:
    if as_json:
        _dump(record.to_dict())
        return 0
    console = _console()
    meta = record.call.to_dict()
    console.print(Text(f"call {record.call.call_id}", style="bold"))
    for k, v in meta.items():
        if k != "call_id":
            console.print(f"  {k}: {v}", markup=False, highlight=False)
    if record.summary:
        console.print(f"  summary: {json.dumps(record.summary, default=str)}", markup=False, highlight=False)
    table = Table(title="decisions")
    for col in ("seq", "at ms", "gate", "outcome", "reason", "rule", "evidence"):
        table.add_column(col, no_wrap=col not in ("evidence",), justify="right" if col in ("seq", "at ms") else "left")
    for d in record.decisions:
        # Text(), not markup: evidence and codes are data, and may contain brackets.
        table.add_row(*map(Text, (str(d.seq), str(d.at_ms), d.gate, d.outcome, d.reason, d.rule,
                                  json.dumps(d.evidence, default=str))))
    console.print(table)
    if record.outbox:
        ob = Table(title="outbox")
        for col in ("key", "kind", "status", "attempts", "payload"):
            ob.add_column(col)
        for o in record.outbox:
            ob.add_row(*map(Text, (o.key, o.kind, o.status, str(o.attempts), json.dumps(o.payload, default=str))))
        console.print(ob)
    return 0


# -- why ----------------------------------------------------------------------------


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


def _why(record: CallRecord, *, as_json: bool) -> int:
    answers = explain(record)
    if as_json:
        _dump(answers)
        return 0
    console = _console()
    console.print(Text(f"call {record.call.call_id} (policy {record.call.policy_version or '?'})", style="bold"))
    for n, key in enumerate(QUESTIONS, 1):
        a = answers[key]
        console.print(Text(f"\n{n}. {a['question']}", style="bold"))
        # soft_wrap: a long record stays one line, so it can be grepped or pasted as JSON.
        console.print(f"   {a['answer']}", highlight=False, markup=False, soft_wrap=True)
        for r in a["records"]:
            console.print(f"   - {json.dumps(r, default=str)}", highlight=False, markup=False, soft_wrap=True)
    return 0
