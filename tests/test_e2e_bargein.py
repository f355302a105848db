"""The call spine end to end: the real gateway (``turngate serve``) and the caller
simulator over a real WebSocket. The caller interrupts a long answer one second
in; ``clear`` goes out; the marks account for what played; the model context keeps
only the heard part."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "long_answer_interrupted.yaml"
FULL_ANSWER_TAIL = "anything else I can help you with today"
CHUNK_MS = 100  # the core's chunk size: marks land every 100 ms of audio

pytestmark = pytest.mark.slow


def test_interrupting_a_long_answer_clears_and_keeps_only_what_was_heard(embedded_gateway):
    r = asyncio.run(run_scenario(load_scenario(SCENARIO), embedded_gateway, speed=1.0))
    assert r.error is None and not r.problems, (r.error, r.problems)

    # clear went out, after the caller's onset and quickly
    assert r.barge_ins and r.clears_ms
    b = r.barge_ins[0]
    assert b.outcome == "abandon"
    assert 0 < b.reaction_ms < 1000

    # the marks account for what played: what the gateway believes was heard is what the
    # simulated phone played before the clear, give or take one chunk in flight
    answer = r.bot_spans[1]  # [0] is the greeting
    played_ms = answer.end_ms - answer.start_ms
    pause = next(d for d in r.decisions if d["gate"] == "turn" and d["outcome"] == "pause")
    heard_ms = pause["evidence"]["heard_ms"]
    assert played_ms - 2 * CHUNK_MS <= heard_ms <= played_ms + 20, (heard_ms, played_ms)
    assert 800 <= played_ms <= 2500  # the caller cut in about a second into the answer

    # the context holds only the heard part of the answer
    abandon = next(d for d in r.decisions if d["gate"] == "turn" and d["outcome"] == "abandon")
    heard_text = abandon["evidence"]["heard_text"]
    assert heard_text and FULL_ANSWER_TAIL not in heard_text
    assistant = [m["content"] for m in r.context if m["role"] == "assistant"]
    assert heard_text in assistant
    assert not any(FULL_ANSWER_TAIL in m for m in assistant)
