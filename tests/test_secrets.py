"""Planted secrets never leave: a real call through the real server with the caller
simulator (signed webhook and stream, the real policy gates, a handoff whose Twilio
transfer and CRM note fail to deliver), then every place a secret could surface is
scanned: the logs, the whole store file, the outbox file, /api, /metrics, the
bodies of refused requests and the simulator's own result."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import websockets

from server_harness import make_providers, running_server
from turngate.demo import free_port
from turngate.testing import ScriptedStt

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SECRETS = {
    "twilio_auth_token": "twAUTH0a9f3e71c5d2b8e4",
    "stream_secret": "strSEC7c1d9e0b2a4f6381",
    "admin_token": "admTOK3e8a1f5c7b9d2e04",
    "console_token": "conTOK9b2d4f6a8c0e1357",
}
CRM_KEY = "crmKEY5f7e9d1b3a2c4e68"
# Provider keys a policy names with api_key_env: present in the gateway's environment.
ENV_KEYS = {"OPENAI_API_KEY": "sk-envKEY1d3f5b7a9c2e4068", "ANTHROPIC_API_KEY": "sk-ant-envKEY8e6c4a2b0d9f",
            "TURNGATE_TEST_LLM_KEY": "llmKEY2b4d6f8a0c1e3579"}


def every_secret() -> list[str]:
    return [*SECRETS.values(), CRM_KEY, *ENV_KEYS.values()]


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {s}" for s in every_secret() if s in text]


def test_planted_secrets_appear_nowhere_after_a_real_call(tmp_path, monkeypatch, caplog):
    from turngate.agent.scripted import load_agent_script
    from turngate.embedding.cache import for_policy
    from turngate.gates.pipeline import keeper_factory
    from turngate.policy import load_policy
    from turngate.server.app import delivery_target
    from turngate.sim.caller import run_scenario
    from turngate.store.outbox import deliver_pending

    for k, v in ENV_KEYS.items():
        monkeypatch.setenv(k, v)
    caplog.set_level(logging.DEBUG)
    closed = free_port()  # nothing listens here: every delivery fails, and its error is stored
    policy = load_policy()
    pv = make_providers(
        f"sqlite:///{tmp_path / 'calls.db'}", stt=ScriptedStt(["can I speak to a real person please"]),
        gatekeeper=keeper_factory(policy, load_agent_script().greeting, encoder=for_policy(policy)),
        twilio_account_sid="AC" + "0" * 32, twilio_api_base=f"http://127.0.0.1:{closed}",
        crm_webhook_url=f"http://127.0.0.1:{closed}/crm?key={CRM_KEY}", outbox_file=str(tmp_path / "outbox.jsonl"),
        **SECRETS)
    admin = {"Authorization": f"Bearer {SECRETS['admin_token']}"}
    found: list[str] = []
    with running_server(pv) as url:
        result = asyncio.run(run_scenario(SCENARIOS / "human_request.yaml", url, speed=1.0,
                                          auth_token=SECRETS["twilio_auth_token"],
                                          admin_token=SECRETS["admin_token"]))
        assert result.error is None, result.error
        assert any(d["gate"] == "handoff" and d["outcome"] == "handoff" for d in result.decisions), result.decisions
        found += leaks("simulator result", json.dumps(result.to_json(), default=str))

        # The handoff's Twilio transfer and CRM note, delivered (and failing) now, not on the worker's next tick.
        pv.writer.flush(5.0)
        deliver_pending(pv.store, delivery_target(pv.config), datetime.now(timezone.utc))
        outbox = pv.store.get_call(result.call_id).to_dict()["outbox"]
        assert {o["kind"] for o in outbox} >= {"transfer", "crm_note"}
        assert all(o.get("attempts", 1) >= 1 for o in outbox), outbox

        for path in ("/api/calls", f"/api/calls/{result.call_id}", "/metrics"):
            r = httpx.get(url + path, headers=admin)
            assert r.status_code == 200
            found += leaks(path, r.text)
        found += refusal_bodies(url)
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    # The scan sees what it should: the gateway's own log lines and this call's rows.
    assert "webhook refused" in logged and "outbox delivery" in logged
    # The whole database, with its write-ahead log (where the newest rows are), free pages and all.
    store_bytes = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("calls.db*"))).decode("latin-1")
    assert result.call_id in store_bytes
    found += leaks("log", logged)
    found += leaks("store files", store_bytes)
    if (tmp_path / "outbox.jsonl").exists():
        found += leaks("outbox file", (tmp_path / "outbox.jsonl").read_text())
    assert not found, found
    # The last-line scrubbers (the /api answer, the serve log filter) never had to act.
    assert "about to leave" not in logged and "[redacted]" not in logged


def refusal_bodies(url: str) -> list[str]:
    """Every kind of refusal, its body scanned: wrong credentials, bad signatures, bad input."""
    found: list[str] = []
    hook = url + "/twilio/voice"
    answers = [
        httpx.get(url + "/api/calls"),
        httpx.get(url + "/api/calls", headers={"Authorization": "Bearer " + SECRETS["admin_token"][:-1]}),
        httpx.get(url + "/console/calls", headers={"Authorization": "Bearer " + SECRETS["console_token"] + "x"}),
        httpx.get(url + "/api/calls?limit=abc", headers={"Authorization": f"Bearer {SECRETS['admin_token']}"}),
        httpx.post(hook, data={"CallSid": "CA1"}),
        httpx.post(hook, data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "bm9wZQ=="}),
        httpx.post(hook, content=b"x" * 100_000),
        httpx.get(url + "/api/calls?" + "q=" * 3000),
        httpx.get(url + "/healthz"), httpx.get(url + "/readyz"),
    ]
    for r in answers:
        assert r.status_code < 500
        found += leaks(f"{r.request.method} {r.request.url.path} -> {r.status_code}", r.text + str(r.headers))

    async def stream_refusals() -> list[str]:
        out = []
        ws_url = url.replace("http", "ws") + "/twilio/stream"
        try:  # unsigned handshake: refused before accept
            async with websockets.connect(ws_url) as ws:
                await ws.recv()
        except (websockets.InvalidStatus, websockets.ConnectionClosed) as e:
            out.append(str(e))
        return out

    for reason in asyncio.run(stream_refusals()):
        found += leaks("stream refusal", reason)
    return found
