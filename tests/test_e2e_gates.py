"""The gates deciding inside real calls: the real gateway and the simulator over a
real WebSocket, with the embedded STT, TTS and policy. What the caller said must
reach the store and the logs only in redacted form."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
pytestmark = pytest.mark.slow

# Four or more digits in a row, written or spoken: nothing of a card may be stored.
DIGITS = re.compile(r"\d{4}|(?:\b(?:one|two|three|four|five|six|seven|eight|nine|zero|oh)\b[\s,]*){4}", re.I)


def run(name: str, url: str):
    return asyncio.run(run_scenario(load_scenario(SCENARIOS / f"{name}.yaml"), url, speed=1.0))


def test_a_card_number_read_over_several_partials_never_reaches_the_store_or_the_log(embedded_gateway):
    r = run("card_number", embedded_gateway)
    assert r.error is None, r.error
    guard = [d for d in r.decisions if d["gate"] == "guard"]
    assert any(d["outcome"] == "redact" and any(f["type"] == "CARD_NUMBER" for f in d["evidence"].get("findings", []))
               for d in guard), guard
    gw_dir = embedded_gateway.dir
    db = gw_dir / "calls.db"
    con = sqlite3.connect(db)
    rows = [str(row) for table in ("calls", "decisions", "outbox") for row in con.execute(f"SELECT * FROM {table}")]
    con.close()
    leaks = [row for row in rows if r.call_id in row and DIGITS.search(row)]
    assert not leaks, leaks[:3]
    log = (gw_dir / "gateway.log").read_text(errors="replace")
    assert not DIGITS.search(log), DIGITS.search(log)


def test_a_payment_request_from_an_unauthenticated_caller_is_held_by_the_guard(embedded_gateway):
    r = run("payment_unauthenticated", embedded_gateway)
    assert r.passed, [c.detail for c in r.expectations if not c.passed] + r.problems
    outcomes = [(d["gate"], d["outcome"]) for d in r.decisions]
    assert ("guard", "require_auth") in outcomes and ("guard", "authenticated") not in outcomes
    # the payment path never reached a model: the guard's safe reply was spoken instead
    assert not any(d["gate"] == "model" and d["evidence"].get("route") == "payment" for d in r.decisions)


def test_intent_drift_over_the_answer_preempts_it(embedded_gateway):
    r = run("drift_preempt", embedded_gateway)
    assert r.passed, [c.detail for c in r.expectations if not c.passed] + r.problems


def test_an_explicit_request_for_a_person_hands_off_with_a_matching_crm_note(embedded_gateway):
    r = run("human_request", embedded_gateway)
    assert r.passed, [c.detail for c in r.expectations if not c.passed] + r.problems
    handoff = next(d for d in r.decisions if d["gate"] == "handoff" and d["outcome"] == "handoff")
    assert handoff["reason"] == "explicit_request"
