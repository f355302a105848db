"""Redis for what several gateways must share: the live-call registry, transfer
commands for a call another process holds, per-tenant limits; and Redis going
away mid-call (calls go on, only those features degrade, and say so).

Starts its own ``redis-server`` on a free port (never the shared one on 6379).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import httpx
import pytest

from scale_helpers import RawCall, fetch_ended, speech_frames
from test_scale_drills import gateway, start_all
from turngate.demo import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("redis-server") is None,
                                                   reason="redis-server not installed")]


@pytest.fixture
def redis_url():
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        r.close()
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def wait_for(pred, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_two_gateways_share_calls_transfers_and_tenant_limits_and_survive_redis_going_away(tmp_path, redis_url):
    url, redis_proc = redis_url
    env = {"TURNGATE_REDIS_URL": url, "TURNGATE_TENANT_MAX_CALLS": "2"}
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a = gateway(tmp_path / "a", "a", f"sqlite:///{tmp_path / 'a' / 'a.db'}", **env)
    b = gateway(tmp_path / "b", "b", f"sqlite:///{tmp_path / 'b' / 'b.db'}", **env)
    start_all([a, b])
    try:
        for g in (a, b):
            assert wait_for(lambda g=g: httpx.get(g.url + "/readyz").json()["cross_process"]["redis"] == "on")

        async def run() -> None:
            call = RawCall(a.url)
            await call.connect()
            await call.silence(1000)
            live = httpx.get(b.url + "/api/live").json()["calls"]
            assert live[call.call_sid]["alive"] and live[call.call_sid]["process"] != \
                httpx.get(b.url + "/readyz").json()["cross_process"]["process"]
            # Tenant limit across processes: one call on A, one admitted on B, the third refused.
            assert "<Stream" in await RawCall(b.url).webhook()
            refused = await RawCall(a.url).webhook()
            assert "<Stream" not in refused and "busy" in refused
            # A transfer asked of B for A's call is carried out by A.
            r = httpx.post(f"{b.url}/api/calls/{call.call_sid}/transfer", json={"queue": "billing"})
            assert r.status_code == 202, r.text
            out = tmp_path / "a" / "outbox.jsonl"
            assert wait_for(lambda: out.exists() and any(
                json.loads(x)["key"] == f"{call.call_sid}:transfer:operator" for x in out.read_text().splitlines()))
            # Redis goes away mid-call: the call goes on.
            redis_proc.kill()
            redis_proc.wait(5)
            await call.send_media(speech_frames("What are your opening hours?"))
            await call.silence(3000)
            assert call.ws.close_code is None
            await call.stop()
            rec = await fetch_ended(a.url, call.call_sid, timeout_s=30)
            assert any(d["gate"] == "route" for d in rec["decisions"])

        asyncio.run(run())
        ready = httpx.get(a.url + "/readyz")
        assert ready.status_code == 200 and ready.json()["cross_process"]["redis"] == "down"
        r = httpx.post(f"{b.url}/api/calls/CAnone/transfer", json={})
        assert r.status_code == 503 and "down" in r.json()["error"]
        assert "redis unreachable" in (tmp_path / "a" / "a.log").read_text()
    finally:
        a.__exit__(), b.__exit__()


def test_without_redis_the_cross_process_features_say_they_are_off(tmp_path):
    from server_harness import app_server
    from server_harness import make_providers
    pv = make_providers(f"sqlite:///{tmp_path / 'c.db'}")
    with app_server(pv) as (url, _app):
        assert httpx.get(url + "/readyz").json()["cross_process"] == {
            "redis": "off", "live_registry": "off", "remote_transfer": "off", "tenant_limits": "off"}
        assert httpx.get(url + "/api/live").json()["cross_process"]["redis"] == "off"
        r = httpx.post(url + "/api/calls/CAx/transfer", json={})
        assert r.status_code == 503 and "off" in r.json()["error"]


@pytest.mark.postgres
def test_a_call_whose_gateway_was_killed_is_ended_as_lost_by_a_surviving_gateway(tmp_path, redis_url, postgres_url):
    from turngate.store import open_store

    url, _ = redis_url
    env = {"TURNGATE_REDIS_URL": url}
    a, b = gateway(tmp_path, "a", postgres_url, **env), gateway(tmp_path, "b", postgres_url, **env)
    start_all([a, b])
    try:
        async def run() -> str:
            call = RawCall(a.url)
            await call.connect()
            await call.silence(1500)
            a.proc.kill()
            await asyncio.sleep(0.5)
            return call.call_sid

        sid = asyncio.run(run())
        store = open_store(postgres_url)
        try:
            assert wait_for(lambda: (store.get_call(sid).call.outcome or "") == "gateway_lost", 25)
            rec = store.get_call(sid)
            assert rec.call.ended_at is not None and rec.decisions  # its log is kept
            assert sid not in httpx.get(b.url + "/api/live").json()["calls"]
        finally:
            store.close()
        assert "stopped; ending it as gateway_lost" in (tmp_path / "b.log").read_text()
    finally:
        a.__exit__(), b.__exit__()
