"""A real call answered by a real model protocol: the real gateway (``turngate serve``
with the embedded speech stack) under a policy whose profiles point at the fake
OpenAI server, called by the simulator over Twilio's protocol. The caller's question
is answered with the fake model's words, and no request body the model received
holds a crm_only or zero_retention value of the caller's record, nor the card number
the caller read out, nor the API key."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from turngate.demo import Gateway
from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from turngate.gates.customers import CustomerDirectory
from turngate.policy import DEFAULT_POLICY_PATH, FieldClass, parse_policy
from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

pytestmark = pytest.mark.slow

KEY = "sk-e2e-canary-5f1c2d9e8b7a"
CALLER = "+15550100"
REPLY = "Happy to help with that. Our branch opens at nine on Saturday mornings."
# The card the caller reads out, in any of the forms it could reach a request body.
CARD = re.compile(r"4111|1111|(?:\b(?:one|four)\b[\s,]*){4}", re.I)

SCENARIO = {
    "name": "model_answers",
    "description": "Three turns answered by the policy's model profiles through the fake OpenAI server.",
    "voice": "rms",
    "from": CALLER,
    "steps": [
        {"wait_for": "bot_done"},
        {"say": "Hi, I need to move my appointment to Friday morning."},
        {"wait_for": "bot_done", "timeout_ms": 20000},
        {"say": "I want to pay with my card. The number is four one one one"},
        {"silence_ms": 700},
        {"say": "one one one one"},
        {"silence_ms": 700},
        {"say": "one one one one"},
        {"silence_ms": 700},
        {"say": "one one one one"},
        {"wait_for": "bot_done", "timeout_ms": 20000},
        {"say": "What time do you open on Saturday?"},
        {"wait_for": "bot_done", "timeout_ms": 20000},
        "hangup",
    ],
    "expect": {"handoff": False},
}


def policy_text(base_url: str) -> str:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    # The FAQ's purpose asks for CRM-only fields too: the memory gate must still withhold them.
    text = text.replace("    memory_scope: [name, branch]\n    handoff_queue: general\n    next_action: answer_from_kb",
                        "    memory_scope: [name, branch, account_id, balance, payment_method, last_payment]\n"
                        "    handoff_queue: general\n    next_action: answer_from_kb", 1)
    assert "account_id, balance" in text
    profile = {"provider": "openai", "base_url": base_url, "api_key_env": "TURNGATE_TEST_LLM_KEY",
               "first_token_ms": 2000, "total_ms": 20000}
    models = {"models": {
        "profiles": {"low_latency": {**profile, "model": "fast-1"},
                     "strong_guard": {**profile, "model": "careful-1", "temperature": 0.2, "max_tokens": 120}},
        "fallback": {"low_latency": ["strong_guard", "scripted"], "strong_guard": ["scripted"]},
    }}
    return text + "\n" + yaml.safe_dump(models, sort_keys=False)


def never_send_values(policy_text_: str) -> dict[str, str]:
    policy = parse_policy(policy_text_, source="e2e.yaml")
    rec = CustomerDirectory.bundled().lookup(CALLER)
    assert rec is not None
    values = {name: v for name, v in rec.fields.items()
              if policy.memory.field_class(name) in (FieldClass.CRM_ONLY, FieldClass.ZERO_RETENTION)}
    values["pin"] = rec.pin  # compared during the call, never sent
    assert {"account_id", "balance", "payment_method", "last_payment", "pin"} <= set(values)
    return values


def test_a_call_is_answered_by_the_policys_model_and_no_never_send_value_reaches_it(tmp_path):
    fake = FakeOpenAI(default=Behaviour(reply=REPLY), api_key=KEY)
    scenario_path = tmp_path / "model_answers.yaml"
    scenario_path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    with serve_in_thread(fake) as base_url:
        text = policy_text(base_url)
        (tmp_path / "policy.yaml").write_text(text)
        env = {"TURNGATE_POLICY": str(tmp_path / "policy.yaml"), "TURNGATE_TEST_LLM_KEY": KEY,
               "TURNGATE_OUTBOX_FILE": str(tmp_path / "outbox.jsonl")}
        with Gateway(store=f"sqlite:///{tmp_path / 'calls.db'}", env=env, log_path=str(tmp_path / "gw.log")) as gw:
            r = asyncio.run(run_scenario(load_scenario(scenario_path), gw.url, speed=1.0))
    assert r.error is None, r.error

    # The model was asked, with the key in the header and the caller's words in the body ...
    assert fake.requests, "the gateway never called the model"
    assert all(q.authorization == f"Bearer {KEY}" for q in fake.requests)
    assert {q.model for q in fake.requests} <= {"fast-1", "careful-1"}
    assert all(q.body["stream"] is True for q in fake.requests)
    # ... and the caller heard its answer (the context keeps what was heard, from mark echoes).
    heard = [m["content"] for m in r.context if m["role"] == "assistant"]
    assert any("Our branch opens at nine on Saturday mornings" in h for h in heard), heard
    model_decisions = [d for d in r.decisions if d["gate"] == "model"]
    assert model_decisions, r.decisions

    # No never-send value, no card digit and no key in any request body the model received.
    never = never_send_values(text)
    bodies = fake.bodies()
    for body in bodies:
        assert KEY not in body
        assert not CARD.search(body), CARD.search(body)
        for name, value in never.items():
            assert value not in body, f"{name} reached the model"
    # The scan is not vacuous: the memory the FAQ and appointment purposes may see was sent,
    # and the card turn reached a later request's context, redacted.
    assert any("Alex Morgan" in b for b in bodies)
    assert any("[CARD_NUMBER]" in b for b in bodies), bodies[-1][-400:]
    assert any("appointment" in json.dumps(q.body["messages"][1:]).lower() for q in fake.requests)

    # Per-attempt measurements are kept with the call; the key is in no log and no row.
    con = sqlite3.connect(tmp_path / "calls.db")
    (summary,) = con.execute("SELECT summary FROM calls WHERE call_id = ?", (r.call_id,)).fetchone()
    rows = [str(x) for row in con.execute("SELECT * FROM decisions") for x in row]
    con.close()
    attempts = json.loads(summary)["models"]
    done = [a for a in attempts if a["outcome"] == "done" and a["provider"] != "scripted"]
    assert done and all(a["ttft_ms"] is not None and a["completion_tokens"] > 0 for a in done), attempts
    assert KEY not in summary and not any(KEY in x for x in rows)
    assert KEY not in Path(tmp_path / "gw.log").read_text(errors="replace")
