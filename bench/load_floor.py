"""The transport floor under load, beside the real gateway at the same call counts.

    .venv/bin/python bench/load_floor.py --calls 40 80 200 --duration 60
    .venv/bin/python bench/load_floor.py --calls 200 --duration 60 --no-gateway

For each N in ``--calls``: the floor server (``turngate.testing.floor``: uvicorn +
Starlette, the real Twilio message format parsed and base64-decoded, a level check per
frame in 8 ms ticks, 20 ms media frames and marks sent back at the real pace while it
"speaks") is driven by the same simulator as ``bench/load.py`` (``turngate loadtest``,
the same scenarios); then, unless ``--no-gateway``, the real gateway at the same N
(``bench/load.py``'s run, ``--providers`` as given). The 1-minute load average is
taken at each start (the machine is shared).

What it answers: the floor is what any Python gateway on this stack pays before it
does anything of its own, simulator included. If the floor cannot hold 200 calls
on this machine, no gateway built on it can.

One JSON line per run, then the last line:
``{"bench": "load_floor", "calls": [...], "frame_ms_p99": [...], "cpu_per_call": [...],
"sim_cpu_per_call": [...], "gateway": [{...}, ...]}`` (lists in the order of ``--calls``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (bench/load.py: the gateway's run)

from turngate.demo import free_port, healthz, wait_until_up  # noqa: E402
from turngate.loadtest import loadtest  # noqa: E402

KEYS = ("frame_ms_p50", "frame_ms_p99", "late_frames", "frames", "reaction_ms_p50", "reaction_ms_p90", "barge_ins",
        "cpu_per_call", "sim_cpu_per_call", "calls_completed", "calls_failed", "call_seconds", "wall_s")


@contextlib.contextmanager
def floor_server(chunk_ms: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "turngate.testing.floor", "--port", str(port),
                             "--chunk-ms", str(chunk_ms)], stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, healthz(url), "the floor server")
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def run_floor(calls: int, duration: float, chunk_ms: int, sim_loop: str = "asyncio") -> dict[str, Any]:
    with floor_server(chunk_ms) as url:
        load1 = os.getloadavg()[0]
        out = loadtest([url], calls, duration, loop=sim_loop)
    for e in out.pop("errors", []):
        print(f"  floor error: {e}", file=sys.stderr)
    out["bench"], out["chunk_ms"], out["load_avg_1m_at_start"] = "load_floor_run", chunk_ms, round(load1, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[40, 80, 200])
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--chunk-ms", type=int, default=20, help="the floor's outbound media frame (the gateway sends 100)")
    ap.add_argument("--no-gateway", action="store_true", help="the floor only")
    ap.add_argument("--providers", choices=("embedded", "fake-cloud"), default="embedded")
    ap.add_argument("--sim-loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="the simulator's event loop (asyncio: as every earlier figure was measured)")
    args = ap.parse_args()
    floors: list[dict[str, Any]] = []
    gateways: list[dict[str, Any]] = []
    for n in args.calls:
        f = run_floor(n, args.duration, args.chunk_ms, args.sim_loop)
        print(json.dumps(f), flush=True)
        floors.append(f)
        if not args.no_gateway:
            g = load.run(n, args.duration, providers=args.providers, sim_loop=args.sim_loop)
            g["bench"] = "load_gateway_run"
            print(json.dumps(g), flush=True)
            gateways.append({k: g.get(k) for k in KEYS + ("dropped_frames", "providers", "load_avg_1m_at_start")})
    last: dict[str, Any] = {"bench": "load_floor", "calls": args.calls, "chunk_ms": args.chunk_ms}
    for k in KEYS + ("dropped_frames", "load_avg_1m_at_start"):
        last[k] = [f.get(k) for f in floors]
    if gateways:
        last["gateway"] = gateways
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
