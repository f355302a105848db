"""Regenerate the console screenshots in ``docs/``: ``python -m turngate.console.screenshots``.

Without ``--url`` it starts a gateway with a fresh store, runs the bundled demo
scenarios through the caller simulator, and photographs the call page of the
interrupted long answer and the metrics page. With ``--url`` it photographs a
gateway that is already running (its newest call with a barge-in).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

from .browser import available, launch

ROOT = Path(__file__).resolve().parents[3]
PREFERRED = "long_answer_interrupted"


def shoot(url: str, call_id: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = [(f"{url}/console/calls/{call_id}", out / "console-call.png"),
             (f"{url}/console/metrics", out / "console-metrics.png")]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for target, path in shots:
            page.goto(target)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(path), full_page=True)
        browser.close()
    return [p for _, p in shots]


def _call_with_barge_in(url: str) -> str:
    calls = httpx.get(f"{url}/api/calls", params={"limit": 200}, timeout=10).json()
    for c in calls:
        d = httpx.get(f"{url}/api/calls/{c['call_id']}", timeout=10).json()
        if any(x["outcome"] == "abandon" for x in d.get("decisions", [])):
            return c["call_id"]
    if not calls:
        raise SystemExit("the gateway has no calls yet")
    return calls[0]["call_id"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m turngate.console.screenshots")
    ap.add_argument("--url", help="a running gateway; default: start one and run the demo scenarios")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    why_not = available()
    if why_not:
        print(f"cannot take screenshots: {why_not}", file=sys.stderr)
        return 2
    if args.url:
        paths = shoot(args.url.rstrip("/"), _call_with_barge_in(args.url.rstrip("/")), Path(args.out))
    else:
        from ..demo import ROOT_SCENARIOS, Gateway
        from ..sim.cli import run_all
        from ..sim.scenario import load_scenario

        scenarios = [load_scenario(p) for p in sorted(ROOT_SCENARIOS.glob("*.yaml"))]
        with tempfile.TemporaryDirectory() as d, \
                Gateway(store=f"sqlite:///{d}/calls.db", env={"TURNGATE_OUTBOX_FILE": f"{d}/outbox.jsonl"}) as gw:
            results = asyncio.run(run_all(scenarios, gw.url))
            chosen = next((r.call_id for r in results if r.scenario == PREFERRED), results[0].call_id)
            paths = shoot(gw.url, chosen, Path(args.out))
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
