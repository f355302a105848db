"""The bundled demo scenarios against the real gateway with the embedded stack (flite, pocketsphinx,
Silero), over a real WebSocket at real-time pace (speed 1.0: the gateway's timers run on its wall clock).

Slow (each call lasts as long as its conversation) and marked so. The selected scenarios run as
`make demo` runs them (``demo.run_bundled``: three calls at a time), on the first test that
asks; each test then checks its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from turngate.demo import run_bundled
from turngate.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(request, embedded_gateway, tmp_path_factory) -> dict:
    """Every selected scenario's result (or the exception it raised), by path."""
    wanted = [item.callspec.params["path"] for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")]
    outcomes = asyncio.run(run_bundled([load_scenario(p) for p in wanted], embedded_gateway,
                                       workdir=tmp_path_factory.mktemp("scenarios")))
    return dict(zip(wanted, outcomes))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_meets_its_expectations_against_the_real_gateway(path, results):
    result = results[path]
    if isinstance(result, BaseException):
        raise result
    failed = [f"{c.name}: {c.detail}" for c in result.expectations if not c.passed]
    assert result.passed, "\n".join(failed + result.problems + [the_call(result)])


def the_call(result) -> str:
    """What a failed call's record says, one decision to a line: a failure on CI is read from
    its log alone, where the call cannot be run again."""
    lines = [f"{d.get('at_ms', '?'):>7} {d.get('gate')}/{d.get('outcome')} {d.get('rule', '')} "
             f"{d.get('evidence', {})}" for d in result.decisions]
    said = [f"caller {u.label!r} {u.onset_ms}-{u.end_ms} ms" for u in result.utterances]
    bot = [f"bot audio {s.start_ms}-{s.end_ms} ms" for s in result.bot_spans]
    return "\n".join(["the call:", *said, *bot, f"clears at {result.clears_ms} ms", *lines])
