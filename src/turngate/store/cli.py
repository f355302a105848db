"""``turngate calls list|show|why``: call review from the store's records alone.

``why`` prints :func:`turngate.store.why.explain`, the same answers the
console's call page shows; this module only renders.
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
from ..errors import ConfigError
from .base import CallRecord
from .sql import open_store
from .why import QUESTIONS, explain

__all__ = ["calls_main", "explain"]


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
