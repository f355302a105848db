"""``turngate simulate SCENARIO... --url URL [--json] [--speed X]``.

Exit status: 0 when every call met its expectations, 1 when one did not, 2 for
a usage or scenario-file error (nothing was called).
Optional attributes read from ``args`` when the parser defines them:
``concurrent`` (run the calls at once), ``auth_token`` (else env TWILIO_AUTH_TOKEN),
``admin_token`` (reads the records from /api; else env TURNGATE_ADMIN_TOKEN),
``record`` (a folder for each call's bot and line audio as WAV).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from .caller import CallResult, run_scenario
from .scenario import Scenario, ScenarioError, load_scenario


async def run_all(scenarios: Sequence[Scenario], url: str, *, speed: float = 1.0, concurrent: bool = False,
                  auth_token: str | None = None, record_dir: str | None = None,
                  admin_token: str | None = None) -> list[CallResult]:
    kw: dict[str, Any] = {"auth_token": auth_token, "record_dir": record_dir, "admin_token": admin_token}
    if concurrent:
        return list(await asyncio.gather(*(run_scenario(s, url, speed, **kw) for s in scenarios)))
    return [await run_scenario(s, url, speed, **kw) for s in scenarios]


def _fmt_ms(ms: int | float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:6.2f}s"


def print_summary(result: CallResult, console: Any = None) -> None:
    """A readable account of one call: caller turns, bot audio, barge-ins, decisions, checks."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    status = "[bold green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
    console.rule(f"{status} {result.scenario}  [dim]{result.call_id}  {result.duration_ms / 1000:.1f} s of audio[/]")
    if result.error:
        console.print(f"[red]error:[/] {result.error}")

    turns = Table(title="turns (audio time)", show_edge=False, title_justify="left")
    turns.add_column("at"), turns.add_column("who"), turns.add_column("what")
    rows: list[tuple[float, str, str]] = []
    for u in result.utterances:
        rows.append((u.onset_ms, "caller", u.label + ("  [yellow](over the bot)[/]" if u.over_bot else "")))
    for s in result.bot_spans:
        rows.append((s.start_ms, "bot", f"audio played for {(s.end_ms - s.start_ms) / 1000:.2f} s"))
    for c in result.clears_ms:
        rows.append((c, "gateway", "[magenta]clear[/]"))
    for at, who, what in sorted(rows, key=lambda r: r[0]):
        turns.add_row(_fmt_ms(at), who, what)
    console.print(turns)

    if result.transcript:
        console.print("[bold]transcript[/]")
        for t in result.transcript:
            if isinstance(t, dict):
                console.print(f"  {t.get('role', t.get('speaker', '?'))}: {t.get('text', t.get('content', ''))}")
            else:
                console.print(f"  {t}")

    if result.barge_ins:
        bt = Table(title="barge-ins", show_edge=False, title_justify="left")
        for col in ("onset", "said", "reaction", "outcome", "heard"):
            bt.add_column(col)
        for b in result.barge_ins:
            bt.add_row(_fmt_ms(b.at_ms), b.said, "-" if b.reaction_ms is None else f"{b.reaction_ms} ms",
                       b.outcome, b.heard_text or "")
        console.print(bt)

    if result.decisions:
        dt = Table(title="decisions", show_edge=False, title_justify="left")
        for col in ("seq", "at", "gate", "outcome", "reason", "rule"):
            dt.add_column(col)
        for d in result.decisions:
            dt.add_row(str(d.get("seq")), _fmt_ms(d.get("at_ms")), str(d.get("gate")), str(d.get("outcome")),
                       str(d.get("reason")), str(d.get("rule")))
        console.print(dt)

    for c in result.expectations:
        mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
        console.print(f"  {mark} {c.name}: [dim]{c.detail}[/]")
    for p in result.problems:
        console.print(f"  [yellow]![/] {p}")


def simulate_main(args: Any) -> int:
    try:
        scenarios = [load_scenario(p) for p in args.scenarios]
    except ScenarioError as e:
        print(f"turngate simulate: {e}", file=sys.stderr)
        return 2
    speed = float(getattr(args, "speed", 1.0) or 1.0)
    if speed <= 0:
        print("turngate simulate: --speed must be positive", file=sys.stderr)
        return 2
    results = asyncio.run(run_all(scenarios, args.url, speed=speed,
                                  concurrent=bool(getattr(args, "concurrent", False)),
                                  auth_token=getattr(args, "auth_token", None),
                                  admin_token=getattr(args, "admin_token", None),
                                  record_dir=getattr(args, "record", None)))
    if getattr(args, "json", False):
        for r in results:
            print(json.dumps(r.to_json(), default=str), flush=True)
    else:
        for r in results:
            print_summary(r)
        n_ok = sum(r.passed for r in results)
        print(f"{n_ok}/{len(results)} calls met their expectations")
    return 0 if all(r.passed for r in results) else 1
