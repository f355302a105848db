"""The bundled demo scenarios against the real gateway with the embedded stack (flite, pocketsphinx,
Silero), over a real WebSocket at real-time pace (speed 1.0: the gateway's timers run on its wall clock).

Slow (each call lasts as long as its conversation) and marked so. The selected scenarios run as
simultaneous calls, ``AT_ONCE`` at a time, on the first test that asks (a gateway carries many
calls; one after another they took 4.5 minutes of the suite); each test then checks its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from turngate.sim.caller import CallResult, run_scenario
from turngate.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
AT_ONCE = 3

pytestmark = pytest.mark.slow


def _run(path: Path, gateway: str, workdir: Path) -> CallResult:
    scenario = load_scenario(path)
    if scenario.own_gateway:
        # Model profiles served by the local fake, or turn-taking settings of its own, on a
        # gateway whose policy has them (as `make demo` does).
        from turngate.sim.models import scenario_gateway

        with scenario_gateway(scenario, workdir, store=f"sqlite:///{workdir / 'calls.db'}") as url:
            return asyncio.run(run_scenario(scenario, url, speed=1.0))
    return asyncio.run(run_scenario(scenario, gateway, speed=1.0))


@pytest.fixture(scope="module")
def results(request, embedded_gateway, tmp_path_factory) -> dict[Path, CallResult | BaseException]:
    """Every selected scenario's result (or the exception it raised), by path."""
    wanted = [item.callspec.params["path"] for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")]
    root = tmp_path_factory.mktemp("scenarios")

    def one(path: Path) -> CallResult | BaseException:
        try:
            return _run(path, embedded_gateway, root / path.stem)
        except Exception as e:  # reported by that scenario's test, not by the others'
            return e

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip(wanted, pool.map(one, wanted)))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_meets_its_expectations_against_the_real_gateway(path, results):
    result = results[path]
    if isinstance(result, BaseException):
        raise result
    failed = [f"{c.name}: {c.detail}" for c in result.expectations if not c.passed]
    assert result.passed, "\n".join(failed + result.problems)
