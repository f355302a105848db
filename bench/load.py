"""Load: N concurrent simulated calls against gateway processes this script starts.

    .venv/bin/python bench/load.py --calls 20 --duration 30
    .venv/bin/python bench/load.py --calls 20 --duration 30 --processes 2 \\
        --store postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/load.py --calls 40 --duration 60 --providers fake-cloud
    .venv/bin/python bench/load.py --calls 40 --duration 60 --providers fake-cloud --stt fake-cloud

Each gateway is ``turngate serve`` with the scripted STT (``TURNGATE_STT=scripted``:
transcripts come from a script, as the issue's goal run asks, so the gateway's
own cost is what is measured) and the rest of the embedded stack (Silero VAD,
the gates, flite, the scripted agent, the store). With ``--processes 2`` both
share the ``--store`` (PostgreSQL for more than one process). Before the load, one
barge-in call runs alone for the unloaded reaction time. The last line is the
JSON of ``turngate loadtest`` plus ``reaction_ms_p90_unloaded``.

``--providers fake-cloud``: TTS is Deepgram Aura's REST protocol served by the local
fake (``turngate.testing.fakes.deepgram_server``, in a process of its own), as the
issue asks ("cloud providers replaced by the protocol-faithful local servers"), so
flite's child processes are out of ``cpu_per_call``; the fake's own CPU is reported
beside it (``provider_cpu_per_call``), as the simulator's is. ``--stt fake-cloud``
also streams each caller turn to the fake's Deepgram live-STT socket (the adapter's
per-frame cost is then in the gateway's figure); the fake answers the script's
utterances in turn across all calls, so which call hears which line is not fixed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from turngate.demo import Gateway, free_port, wait_until_up
from turngate.loadtest import ROOT_SCENARIOS, loadtest

SCRIPT = """what are your opening hours
I want to change my appointment to Tuesday
stop wait
I want to talk to a person
"""
FAKE_KEY = "fake-deepgram-key-for-load-runs"


def process_cpu_s(pid: int) -> float:
    """A live process's CPU seconds (user + system), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def fake_deepgram(log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The local Deepgram fake in its own process (its CPU is not the gateway's)."""
    port = free_port()
    cmd = [sys.executable, "-m", "turngate.testing.fakes.deepgram_server", "--port", str(port), "--cycle",
           "--words-per-s", "3"]
    cmd += [x for line in SCRIPT.splitlines() if line for x in ("--say", line)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            # Any answer will do: the fake is up.
            wait_until_up(proc, lambda: httpx.post(
                url + "/v1/speak", json={"text": "hi"}, params={"encoding": "mulaw"},
                headers={"Authorization": f"Token {FAKE_KEY}"}, timeout=1) is not None,
                "the Deepgram fake", log_path=log_path)
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(15)


def gateway_env(tmp: Path, calls: int, providers: str, stt: str, fake_url: str | None) -> dict[str, str]:
    (tmp / "script.txt").write_text(SCRIPT)
    env = {"TURNGATE_STT": "scripted", "TURNGATE_STT_SCRIPT": str(tmp / "script.txt"), "TURNGATE_STT_WORKERS": "0",
           "TURNGATE_STREAM_SECRET": "stream-secret-for-load-runs", "TURNGATE_MAX_CALLS": str(calls * 2 + 10),
           "TURNGATE_OUTBOX_FILE": str(tmp / "outbox.jsonl"), "TURNGATE_LOG_LEVEL": "warning"}
    if fake_url is not None:
        env |= {"TURNGATE_DEEPGRAM_URL": fake_url, "DEEPGRAM_API_KEY": FAKE_KEY}
        if providers == "fake-cloud":
            env["TURNGATE_TTS"] = "deepgram"
        if stt == "fake-cloud":
            env["TURNGATE_STT"] = "deepgram"
    return env


def run(calls: int, duration: float, *, processes: int = 1, store: str | None = None,
        providers: str = "embedded", stt: str = "scripted", sim_loop: str = "asyncio") -> dict[str, Any]:
    """Start the gateway(s) (and the fake cloud), run the unloaded call and the load; the figures."""
    tmp = Path(tempfile.mkdtemp(prefix="turngate-load-"))
    store = store or f"sqlite:///{tmp / 'load.db'}"
    with contextlib.ExitStack() as stack:
        fake_url, fake_proc = None, None
        if "fake-cloud" in (providers, stt):
            fake_url, fake_proc = stack.enter_context(fake_deepgram(tmp / "deepgram.log"))
        env = gateway_env(tmp, calls, providers, stt, fake_url)
        gws = [stack.enter_context(Gateway(store=store, env=env, log_path=str(tmp / f"gw{i}.log")))
               for i in range(processes)]
        urls = [g.url for g in gws]
        print(f"{len(urls)} gateway(s) up: {urls}; logs in {tmp}", file=sys.stderr)
        barge = [str(ROOT_SCENARIOS / "long_answer_interrupted.yaml")]
        unloaded = loadtest(urls[:1], 1, 1.0, barge, loop=sim_loop)
        fake_cpu0 = process_cpu_s(fake_proc.pid) if fake_proc else 0.0
        load1 = os.getloadavg()[0]
        out = loadtest(urls, calls, duration, loop=sim_loop)
        fake_cpu = process_cpu_s(fake_proc.pid) - fake_cpu0 if fake_proc else None
    for e in out.pop("errors", []):
        print(f"  error: {e}", file=sys.stderr)
    out["reaction_ms_p90_unloaded"] = unloaded["reaction_ms_p90"]
    out["providers"], out["stt"] = providers, stt
    if fake_cpu is not None and out.get("cpu_per_call"):
        # cpu_per_call is CPU over call-seconds; the same call-seconds for the fake's CPU.
        call_s = out["call_seconds"]
        out["provider_cpu_per_call"] = round(fake_cpu / call_s, 4) if call_s else None
    out["load_avg_1m_at_start"] = round(load1, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--store", default=None, help="store URL (default: a SQLite file per run)")
    ap.add_argument("--providers", choices=("embedded", "fake-cloud"), default="embedded",
                    help="TTS: flite (embedded) or Deepgram Aura on the local fake (fake-cloud)")
    ap.add_argument("--stt", choices=("scripted", "fake-cloud"), default="scripted",
                    help="STT: the in-process script, or Deepgram live STT on the local fake")
    ap.add_argument("--sim-loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="the simulator's event loop (asyncio: as every earlier figure was measured)")
    args = ap.parse_args()
    out = run(args.calls, args.duration, processes=args.processes, store=args.store,
              providers=args.providers, stt=args.stt, sim_loop=args.sim_loop)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
