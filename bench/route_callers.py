"""The bundled policy on callers' opening requests (``caller_requests``): a first turn of a
fresh call, as a new user tries the gateway.

Each request is one fresh call through the same gate pipeline as a live call and ``turngate
policy eval`` (``policy_cli.Evaluator``): word-prefix partials (every second word), then the
final; the final's route is compared with the label. The tuning half is where policy edits
are chosen; quote the held-out half.

``--spoken``: the requests as the embedded stack hears them. Each is spoken by the three
flite voices (slt, awb, rms), sent through the phone path (8 kHz, G.711 mu-law) and the
gateway's recogniser (pocketsphinx with the domain LM built from the policy and the agent
script, as ``turngate serve`` builds it); its partials and final go through the gates.
Synthetic voices, so a floor on what a caller's voice gives, not an estimate of it.

    .venv/bin/python bench/route_callers.py [--policy FILE] [--half tune|heldout|all] [--misses]
    .venv/bin/python bench/route_callers.py --spoken      # ~2 min

Last line: ``{"bench": "route_callers", "caller_request_acc": ..., "heldout_caller_request_acc": ...}``
(``--spoken``: ``spoken_*`` keys, and ``spoken_wer``).
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
from heard import VOICES, Heard  # noqa: E402
from turngate.policy import load_policy  # noqa: E402
from turngate.policy_cli import Evaluator  # noqa: E402


def first_turn_route(ev: Evaluator, text: str, partials: list[str] | None = None) -> str:
    """The route a fresh call leaves after ``partials`` (default: every second word of
    ``text``) and the final ``text``."""
    if partials is None:
        words = text.split()
        partials = [" ".join(words[:n]) for n in range(2, len(words), 2)]
    for p in partials:
        ev.evaluate(p, final=False, auth=False)
    return ev.evaluate(text, final=True, auth=False)["route"]["name"]


def score(ev: Evaluator, rows: list[tuple[str, str]], heard: Heard | None = None) -> dict:
    if heard is None:
        got = [(t, want, first_turn_route(ev, t)) for t, want in rows]
    else:
        got = []
        for t, want in rows:
            for voice in VOICES:
                final, partials = heard(t, voice)
                got.append((f"{voice}: {t} -> {final!r}", want, first_turn_route(ev, final, partials)))
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
    ap.add_argument("--spoken", action="store_true", help="through flite and the embedded recogniser")
    ap.add_argument("--stt", action="append", default=[], metavar="NAME=VALUE",
                    help="a PocketsphinxEngine option for --spoken (general_weight=0.3, general_vocab=10000)")
    args = ap.parse_args()
    ev = Evaluator(load_policy(args.policy))
    options = {k: float(v) if "." in v else int(v) for k, v in (o.split("=", 1) for o in args.stt)}
    heard = Heard(args.policy, **options) if args.spoken else None
    halves = ("tune", "heldout") if args.half == "all" else (args.half,)
    results = {h: score(ev, caller_requests.half(h), heard) for h in halves}
    if args.misses:
        for h, res in results.items():
            for m in res["misses"]:
                print(f"{h}: {m['want']:>12} -> {m['got']:<12} {m['text']}")
    line: dict = {"bench": "route_callers", "half": args.half}
    key = "spoken_caller_request" if args.spoken else "caller_request"
    for h, res in results.items():
        prefix = "" if h == "tune" and args.half != "all" else ("heldout_" if h == "heldout" else "tune_")
        line[f"{prefix}{key}_acc"] = res["acc"]
        line[f"{prefix}{key}_n"] = res["n"]
        line[f"{prefix}{key}_by_route"] = res["by_route"]
    if args.half == "all":
        n = sum(r["n"] for r in results.values())
        line[f"{key}_acc"] = round(sum(r["acc"] * r["n"] for r in results.values()) / n, 4)
    if heard is not None:
        line["spoken_wer"] = round(heard.errors / max(heard.words, 1), 4)
        line["voices"] = list(VOICES)
        line["stt_options"] = options
    print(json.dumps(line))


if __name__ == "__main__":
    main()
