"""Malformed and out-of-order Twilio messages over a real WebSocket: the server
never crashes, every bad message is a logged decision, the call's log stays intact."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server_harness import make_providers, running_server
from turngate.twilio.security import make_stream_token


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    pv = make_providers(f"sqlite:///{db}", stream_secret="s3cret")
    with running_server(pv) as url:
        yield url, pv


def start_frame(call_sid: str, token: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ" + call_sid[2:],
                       "start": {"streamSid": "MZ" + call_sid[2:], "accountSid": "AC1", "callSid": call_sid,
                                 "tracks": ["inbound"], "customParameters": {"token": token},
                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def media(seq: int) -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZ1",
                       "media": {"track": "inbound", "chunk": str(seq), "timestamp": str(seq * 20),
                                 "payload": base64.b64encode(b"\xff" * 160).decode()}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
bad_frames = st.one_of(
    st.text(max_size=200),                                                     # not JSON at all
    json_values.map(json.dumps),                                               # JSON, wrong shape
    st.sampled_from(["media", "mark", "dtmf", "start", "stop", "clear", "bogus"]).flatmap(
        lambda ev: st.dictionaries(st.sampled_from(["media", "mark", "dtmf", "start", "stop", "sequenceNumber"]),
                                   json_values, max_size=3).map(lambda d: json.dumps({"event": ev, **d}))),
    st.just(json.dumps({"event": "media", "media": {"payload": "%%%not-base64%%%"}})),
    st.just(json.dumps({"event": "dtmf", "dtmf": {"digit": "99"}})),
    st.just(json.dumps({"event": "mark", "mark": {"name": "tg:99:0:800"}})),   # a mark we never sent
)


async def one_call(url: str, secret: str, frames: list[str]) -> str:
    call_sid = "CA" + uuid.uuid4().hex
    token = make_stream_token(secret, call_sid, 2_000_000_000)
    async with websockets.connect(url.replace("http", "ws") + "/twilio/stream") as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(frames[0])  # out of order: before start
        await ws.send(start_frame(call_sid, token))
        try:
            for i, f in enumerate(frames[1:]):
                await ws.send(f)
                await ws.send(media(i + 2))
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": "999", "streamSid": "MZ1", "stop": {}}))
        except websockets.ConnectionClosed:
            pass  # a frame that parsed as a valid stop ended the call: that is correct
    return call_sid


async def fetch(url: str, call_sid: str) -> dict:
    async with httpx.AsyncClient() as c:
        for _ in range(50):
            r = await c.get(f"{url}/api/calls/{call_sid}")
            if r.status_code == 200 and r.json().get("state") == "ended":
                return r.json()
            await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_sid} never reached the log")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(bad_frames, min_size=1, max_size=6))
def test_malformed_and_out_of_order_messages_are_logged_and_never_crash_the_server(gateway, frames):
    url, pv = gateway

    async def run():
        call_sid = await one_call(url, pv.config.stream_secret, frames)
        return await fetch(url, call_sid)

    record = asyncio.run(run())
    decisions = record["decisions"]
    seqs = [d["seq"] for d in decisions]
    assert seqs == list(range(1, len(seqs) + 1)), "the call's log has a gap or a duplicate"
    assert decisions[0]["outcome"] == "call_started"
    assert decisions[-1]["outcome"] == "ended"
    rejected = [d for d in decisions if d["gate"] == "transport"]
    # Every frame the codec could not use is its own decision (the first frame was sent
    # before start, so it is rejected as out of order if it was otherwise valid).
    from turngate.twilio.codec import Rejected, Stop, parse
    parsed = [parse(f) for f in frames[1:]]
    if any(isinstance(p, Stop) for p in parsed):  # a valid stop ends the call; later frames are unread
        parsed = parsed[: next(i for i, p in enumerate(parsed) if isinstance(p, Stop))]
    expected = sum(isinstance(p, Rejected) for p in parsed) + 1
    assert len(rejected) >= expected
    assert httpx.get(url + "/healthz").json()["ok"]


def test_stream_without_token_is_refused_with_a_clear_close_reason(gateway):
    url, _ = gateway

    async def run():
        async with websockets.connect(url.replace("http", "ws") + "/twilio/stream") as ws:
            await ws.send(start_frame("CA" + "0" * 32, ""))
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value

    closed = asyncio.run(run())
    assert closed.rcvd.code == 1008 and closed.rcvd.reason == "missing token"


def test_stream_with_a_token_for_another_call_is_refused(gateway):
    url, pv = gateway

    async def run():
        token = make_stream_token(pv.config.stream_secret, "CA" + "1" * 32, 2_000_000_000)
        async with websockets.connect(url.replace("http", "ws") + "/twilio/stream") as ws:
            await ws.send(start_frame("CA" + "2" * 32, token))
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value

    assert asyncio.run(run()).rcvd.reason == "token call mismatch"
