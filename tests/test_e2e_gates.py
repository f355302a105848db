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

# The scenario's card is 4111 1111 1111 1111: no group of it, written or spoken, may be stored.
CARD = re.compile(r"(?<![0-9A-Za-z])(?:4111|1111)(?![0-9A-Za-z])|(?:\b(?:one|four)\b[\s,]*){4}", re.I)


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
    # every column that can hold what was said: evidence, the call summary, outbox payloads
    rows = [*con.execute("SELECT evidence FROM decisions WHERE call_id = ?", (r.call_id,)),
            *con.execute("SELECT summary FROM calls WHERE call_id = ?", (r.call_id,)),
            *con.execute("SELECT payload FROM outbox WHERE call_id = ?", (r.call_id,))]
    con.close()
    assert len(rows) > 5
    leaks = [row[0] for row in rows if row[0] and CARD.search(str(row[0]))]
    assert not leaks, leaks[:3]
    log = (gw_dir / "gateway.log").read_text(errors="replace")
    assert not CARD.search(log), CARD.search(log)


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
