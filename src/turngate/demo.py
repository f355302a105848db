"""``turngate demo``: start a gateway on a free local port with the embedded stack,
run the bundled scenarios through the caller simulator over the real WebSocket,
print each call, and exit non-zero if an expectation failed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .config import Config, process_environment

ROOT_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(url: str) -> Callable[[], bool]:
    """A probe: the server at ``url`` answers ``/healthz`` with 200."""
    return lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200


def wait_until_up(proc: subprocess.Popen[bytes], probe: Callable[[], bool], what: str, *,
                  timeout_s: float = 60.0, log_path: str | os.PathLike[str] | None = None) -> None:
    """Wait for a server subprocess: until ``probe()`` is true (an HTTP error counts as not
    yet), the process exits (an error, naming its log), or ``timeout_s`` passes (an error)."""
    see = f"; see {log_path}" if log_path else ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start-up{see}")
        try:
            if probe():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {timeout_s:.0f} s{see}")


class Gateway:
    """A ``turngate serve`` subprocess on a free port, for the demo and for tests."""

    def __init__(self, *, store: str | None = None, env: dict[str, str] | None = None,
                 log_path: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        self.env = process_environment(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> "Gateway":
        cmd = [sys.executable, "-m", "turngate.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.store:
            cmd += ["--store", self.store]
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:  # STT workers build their LM and the router trains at start-up: up to minutes
            wait_until_up(self.proc, healthz(self.url), "gateway", timeout_s=300, log_path=self.log_path)
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()


async def run_bundled(scenarios: list[Any], url: str, *, workdir: Path, store: str | None = None,
                      at_once: int = 3) -> list[Any]:
    """Each scenario's call (or the exception it raised), in order, ``at_once`` calls at a
    time: on the gateway at ``url``, or for a scenario with model profiles or turn-taking
    settings of its own, on a gateway started for it in a thread (its start-up must not stall
    the other calls' real-time audio). ``store``: the own gateways' (default: one SQLite file
    each in ``workdir``)."""
    from .sim.caller import run_scenario
    from .sim.models import scenario_gateway

    slots = asyncio.Semaphore(at_once)

    def own(s: Any) -> Any:
        # Real model profiles, served by a local OpenAI-compatible server that stalls or
        # fails the way the scenario says, and/or turn-taking settings of its own: the
        # scenario's gateway runs the bundled policy with them.
        d = workdir / f"demo-{s.name}"
        with scenario_gateway(s, d, store=store or f"sqlite:///{d / 'calls.db'}") as own_url:
            return asyncio.run(run_scenario(s, own_url, speed=1.0))

    async def one(s: Any) -> Any:
        async with slots:
            return await (asyncio.to_thread(own, s) if s.own_gateway else run_scenario(s, url, speed=1.0))

    return list(await asyncio.gather(*(one(s) for s in scenarios), return_exceptions=True))


def demo_main(args: Any) -> int:
    from .sim.cli import print_summary
    from .sim.scenario import load_scenario

    paths = [Path(p) for p in args.scenarios] or sorted(ROOT_SCENARIOS.glob("*.yaml"))
    if not paths:
        print("no scenarios found", file=sys.stderr)
        return 2
    scenarios = [load_scenario(p) for p in paths]
    store = args.store or Config.from_env().store
    os.makedirs("var", exist_ok=True)
    print(f"starting the gateway (embedded stack: Silero VAD, pocketsphinx, flite, scripted agent); store {store}",
          file=sys.stderr)
    print(f"{len(scenarios)} calls at real-time pace, three at a time (a scenario with model profiles or "
          f"turn-taking settings of its own gets a gateway of its own); the summaries follow", file=sys.stderr)
    with Gateway(store=store, log_path="var/demo-gateway.log") as gw:
        outcomes = asyncio.run(run_bundled(scenarios, gw.url, workdir=Path("var"), store=store))
    results = []
    for s, r in zip(scenarios, outcomes):
        if isinstance(r, BaseException):
            raise RuntimeError(f"scenario {s.name} could not run: {r}") from r
        results.append(r)
    failed = 0
    for r in results:
        if args.json:
            print(json.dumps(r.to_json()))
        else:
            print_summary(r)
        failed += not r.passed
    print(f"\n{len(results) - failed} passed, {failed} failed  (gateway log: var/demo-gateway.log; "
          f"review with: turngate calls list --store {store})", file=sys.stderr)
    return 1 if failed else 0
