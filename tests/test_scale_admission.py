"""Back-pressure: the per-process call cap, readiness, draining, the bounded STT audio queue."""

from __future__ import annotations

import asyncio
from collections import deque

import httpx
import numpy as np
import pytest
import websockets

from scale_helpers import RawCall, fetch_ended
from server_harness import app_server, make_providers
from turngate.server.backpressure import trim_stt_audio
from turngate.server.drain import Admission, drain


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_cap_counts_reserved_webhooks_until_their_stream_starts_or_the_reservation_expires():
    clock, live = Clock(), {}
    a = Admission(max_calls=2, reservation_s=30, live=live, clock=clock)
    assert a.admit_webhook("CA1") is None and a.admit_webhook("CA2") is None
    assert a.admit_webhook("CA3") == "at_capacity"
    a.stream_started("CA1")
    live["CA1"] = object()
    assert a.load == 2 and a.admit_webhook("CA3") == "at_capacity"
    clock.t = 30.0  # CA2 never streamed: its slot comes back
    assert a.load == 1 and a.admit_webhook("CA3") is None
    assert a.refused == {"at_capacity": 2}


def test_refusal_is_spoken_or_dials_the_overflow_number():
    assert "<Say>" in Admission(max_calls=0).refusal_twiml()
    twiml = Admission(max_calls=0, overflow_number="+15551234567").refusal_twiml()
    assert "<Dial>+15551234567</Dial>" in twiml and "<Say>" not in twiml


def test_draining_refuses_webhooks_and_streams_without_a_reservation():
    clock = Clock()
    a = Admission(max_calls=10, live={}, clock=clock)
    assert a.admit_webhook("CA1") is None
    a.draining = True
    assert a.admit_webhook("CA2") == "draining"
    assert a.admit_stream()  # CA1 was admitted before the drain: its stream may still come
    a.stream_started("CA1")
    assert not a.admit_stream()


def test_drain_waits_for_calls_in_flight_then_flushes():
    live = {"CA1": object()}
    a = Admission(max_calls=10, live=live)
    flushed = []

    async def run() -> bool:
        task = asyncio.create_task(drain(a, grace_s=5, flush=lambda: flushed.append(True), poll_s=0.01))
        await asyncio.sleep(0.05)
        assert a.draining and not flushed
        live.clear()
        return await task

    assert asyncio.run(run()) is True and flushed == [True]


def test_drain_gives_up_waiting_after_the_grace_period_and_still_flushes():
    a = Admission(max_calls=10, live={"CA1": object()})
    flushed = []
    assert asyncio.run(drain(a, grace_s=0.05, flush=lambda: flushed.append(1), poll_s=0.01)) is False
    assert flushed == [1]


def test_stt_audio_queue_drops_the_oldest_audio_and_never_a_start_or_finish():
    f = lambda i: np.full(160, i, dtype=np.int16)  # noqa: E731
    cmds = deque([("start", None), ("audio", [f(1), f(2), f(3)]), ("finish", False),
                  ("start", None), ("audio", [f(4), f(5)])])
    assert trim_stt_audio(cmds, 5) == 0
    assert trim_stt_audio(cmds, 3) == 2
    assert [c for c, _ in cmds] == ["start", "audio", "finish", "start", "audio"]
    assert [int(p[0]) for p in cmds[1][1]] == [3] and [int(p[0]) for p in cmds[4][1]] == [4, 5]


@pytest.fixture
def server(tmp_path):
    pv = make_providers(f"sqlite:///{tmp_path / 'c.db'}", max_calls=1, stream_secret="admission-test-stream-secret")
    with app_server(pv) as (url, app):
        yield url, app, pv


def test_readyz_reports_each_check_and_goes_503_at_the_cap_and_while_draining(server):
    url, app, pv = server
    r = httpx.get(url + "/readyz")
    body = r.json()
    assert r.status_code == 200 and body["ready"] and body["checks"]["store"]["ok"]
    assert body["cross_process"]["redis"] == "off" and body["cross_process"]["tenant_limits"] == "off"
    assert httpx.get(url + "/healthz").status_code == 200

    async def run() -> None:
        call = RawCall(url)
        await call.connect()
        await call.silence(200)
        r = httpx.get(url + "/readyz")
        assert r.status_code == 503 and not r.json()["checks"]["under_cap"]["ok"]
        second = RawCall(url)
        twiml = await second.webhook()
        assert "<Say>" in twiml and "busy" in twiml and "<Stream" not in twiml
        await call.stop()
        await fetch_ended(url, call.call_sid)

    asyncio.run(run())
    assert b'turngate_calls_refused_total{reason="at_capacity"} 1.0' in httpx.get(url + "/metrics").content

    app.state.admission.draining = True
    r = httpx.get(url + "/readyz")
    assert r.status_code == 503 and r.json()["checks"]["not_draining"] == {"ok": False}
    assert "<Say>" in httpx.post(url + "/twilio/voice", data={"CallSid": "CA9"}).text

    async def stream_refused() -> None:
        # Closed before the handshake completes: the client sees the HTTP refusal.
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(url.replace("http", "ws") + "/twilio/stream") as ws:
                await ws.recv()

    asyncio.run(stream_refused())
    assert b'turngate_streams_refused_total{reason="draining"} 1.0' in httpx.get(url + "/metrics").content
    app.state.admission.draining = False


def test_overflow_number_replaces_the_spoken_refusal(tmp_path):
    pv = make_providers(f"sqlite:///{tmp_path / 'c.db'}", max_calls=1, overflow_number="+15557654321")
    with app_server(pv) as (url, _app):
        first = httpx.post(url + "/twilio/voice", data={"CallSid": "CA0"}).text  # holds the one slot
        assert "<Stream" in first
        twiml = httpx.post(url + "/twilio/voice", data={"CallSid": "CA1"}).text
    assert "<Dial>+15557654321</Dial>" in twiml


def test_the_default_cap_is_the_measured_capacity_per_core_and_an_explicit_one_wins():
    import os

    from turngate.config import Config

    assert Config.from_env(env={}).max_calls == 15 * (os.cpu_count() or 1)
    assert Config.from_env(env={"TURNGATE_MAX_CALLS": "7"}).max_calls == 7
