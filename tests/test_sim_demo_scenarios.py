"""The bundled demo scenarios against the real gateway with the embedded stack (flite, pocketsphinx,
Silero), over a real WebSocket at real-time pace (speed 1.0: the gateway's timers run on its wall clock).

Slow (each call lasts as long as its conversation) and marked so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_meets_its_expectations_against_the_real_gateway(path, embedded_gateway, tmp_path):
    scenario = load_scenario(path)
    if scenario.own_gateway:
        # Model profiles served by the local fake, or turn-taking settings of its own, on a
        # gateway whose policy has them (as `make demo` does).
        from turngate.sim.models import scenario_gateway

        with scenario_gateway(scenario, tmp_path, store=f"sqlite:///{tmp_path / 'calls.db'}") as url:
            result = asyncio.run(run_scenario(scenario, url, speed=1.0))
    else:
        result = asyncio.run(run_scenario(scenario, embedded_gateway, speed=1.0))
    failed = [f"{c.name}: {c.detail}" for c in result.expectations if not c.passed]
    assert result.passed, "\n".join(failed + result.problems)
