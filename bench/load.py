"""Load: N concurrent simulated calls against gateway processes this script starts.

    .venv/bin/python bench/load.py --calls 20 --duration 30
    .venv/bin/python bench/load.py --calls 20 --duration 30 --processes 2 \\
        --store postgresql://postgres@127.0.0.1:5432/test

Each gateway is ``turngate serve`` with the scripted STT (``TURNGATE_STT=scripted``:
transcripts come from a script, as the issue's goal run asks, so the gateway's
own cost is what is measured) and the rest of the embedded stack (Silero VAD,
the gates, flite, the scripted agent, the store). With ``--processes 2`` both
share the ``--store`` (PostgreSQL for more than one process). Before the load, one
barge-in call runs alone for the unloaded reaction time. The last line is the
JSON of ``turngate loadtest`` plus ``reaction_ms_p90_unloaded``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

from turngate.demo import Gateway
from turngate.loadtest import ROOT_SCENARIOS, loadtest

SCRIPT = """what are your opening hours
I want to change my appointment to Tuesday
stop wait
I want to talk to a person
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--store", default=None, help="store URL (default: a SQLite file per run)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="turngate-load-"))
    (tmp / "script.txt").write_text(SCRIPT)
    store = args.store or f"sqlite:///{tmp / 'load.db'}"
    env = {"TURNGATE_STT": "scripted", "TURNGATE_STT_SCRIPT": str(tmp / "script.txt"), "TURNGATE_STT_WORKERS": "0",
           "TURNGATE_STREAM_SECRET": "load", "TURNGATE_MAX_CALLS": str(args.calls * 2 + 10),
           "TURNGATE_OUTBOX_FILE": str(tmp / "outbox.jsonl"), "TURNGATE_LOG_LEVEL": "warning"}
    with contextlib.ExitStack() as stack:
        gws = [stack.enter_context(Gateway(store=store, env=env, log_path=str(tmp / f"gw{i}.log")))
               for i in range(args.processes)]
        urls = [g.url for g in gws]
        print(f"{len(urls)} gateway(s) up: {urls}; logs in {tmp}", file=sys.stderr)
        barge = [str(ROOT_SCENARIOS / "long_answer_interrupted.yaml")]
        unloaded = loadtest(urls[:1], 1, 1.0, barge)
        out = loadtest(urls, args.calls, args.duration)
    for e in out.pop("errors", []):
        print(f"  error: {e}", file=sys.stderr)
    out["reaction_ms_p90_unloaded"] = unloaded["reaction_ms_p90"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
