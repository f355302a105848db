"""The bundled demo scenarios against the real gateway with the embedded stack (flite, pocketsphinx,
Silero), over a real WebSocket at real-time pace (speed 1.0: the gateway's timers run on its wall clock).

Slow (each call lasts as long as its conversation) and marked so; skipped while the gateway's
embedded stack cannot be built on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.slow


def _app(tmp_path: Path):
    try:
        from turngate.config import Config
        from turngate.server.app import create_app
        from turngate.server.providers import embedded

        cfg = Config.from_env(env={}, host="127.0.0.1", port=0, store=f"sqlite:///{tmp_path / 'calls.db'}")
        return create_app(embedded(cfg))
    except ImportError as e:  # the gateway is built in parallel; its absence is not this test's failure
        pytest.skip(f"the gateway's embedded stack is not importable: {e}")


@contextlib.asynccontextmanager
async def _serve(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_bundled_scenario_meets_its_expectations_against_the_real_gateway(path, tmp_path):
    app = _app(tmp_path)
    async with _serve(app) as url:
        result = await run_scenario(load_scenario(path), url, speed=1.0)
    failed = [f"{c.name}: {c.detail}" for c in result.expectations if not c.passed]
    assert result.passed, "\n".join(failed + result.problems)
