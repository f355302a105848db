"""The bundled policy on callers' opening requests (``caller_requests``): a first turn of a
fresh call, as a new user tries the gateway.

Each request is one fresh call through the same gate pipeline as a live call and ``turngate
policy eval`` (``policy_cli.Evaluator``): word-prefix partials (every second word), then the
final; the final's route is compared with the label. The tuning half is where policy edits
are chosen; quote the held-out half.

    .venv/bin/python bench/route_callers.py [--policy FILE] [--half tune|heldout|all] [--misses]

Last line: ``{"bench": "route_callers", "caller_request_acc": ..., "heldout_caller_request_acc": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import caller_requests  # noqa: E402
from turngate.policy import load_policy  # noqa: E402
from turngate.policy_cli import Evaluator  # noqa: E402


def first_turn_route(ev: Evaluator, text: str) -> str:
    words = text.split()
    for n in range(2, len(words), 2):
        ev.evaluate(" ".join(words[:n]), final=False, auth=False)
    return ev.evaluate(text, final=True, auth=False)["route"]["name"]


def score(ev: Evaluator, rows: list[tuple[str, str]]) -> dict:
    got = [(t, want, first_turn_route(ev, t)) for t, want in rows]
    per = Counter(want for _, want, _ in got)
    right = Counter(want for _, want, r in got if r == want)
    return {
        "acc": round(sum(right.values()) / len(got), 4),
        "n": len(got),
        "by_route": {r: round(right[r] / per[r], 3) for r in per},
        "misses": [{"text": t, "want": want, "got": r} for t, want, r in got if r != want],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", help="policy file (default: the bundled policy)")
    ap.add_argument("--half", choices=("tune", "heldout", "all"), default="all")
    ap.add_argument("--misses", action="store_true", help="print each misrouted request")
    args = ap.parse_args()
    ev = Evaluator(load_policy(args.policy))
    halves = ("tune", "heldout") if args.half == "all" else (args.half,)
    results = {h: score(ev, caller_requests.half(h)) for h in halves}
    if args.misses:
        for h, res in results.items():
            for m in res["misses"]:
                print(f"{h}: {m['want']:>12} -> {m['got']:<12} {m['text']}")
    line: dict = {"bench": "route_callers", "half": args.half}
    for h, res in results.items():
        prefix = "" if h == "tune" and args.half != "all" else ("heldout_" if h == "heldout" else "tune_")
        line[f"{prefix}caller_request_acc"] = res["acc"]
        line[f"{prefix}caller_request_n"] = res["n"]
        line[f"{prefix}caller_request_by_route"] = res["by_route"]
    if args.half == "all":
        n = sum(r["n"] for r in results.values())
        line["caller_request_acc"] = round(sum(r["acc"] * r["n"] for r in results.values()) / n, 4)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
