"""The transport floor (turngate.testing.floor): its turns and pacing, its wire, and the
Deepgram fake's cycling script that bench/load.py --stt fake-cloud relies on."""

from __future__ import annotations

import base64
import json

from starlette.testclient import TestClient

from turngate.sim.webhook import parse_connect_stream
from turngate.testing.floor import (ANSWER, BYTES_PER_MS, END_SILENCE_MS, GREETING, VOICE_LEVEL, FloorCall,
                                    FrameHub, Pace, create_floor_app)


def _kinds(msgs: list[str]) -> list[str]:
    return [json.loads(m)["event"] for m in msgs]


def _marks(msgs: list[str]) -> list[str]:
    return [json.loads(m)["mark"]["name"] for m in msgs if json.loads(m)["event"] == "mark"]


def test_speaking_sends_20ms_frames_with_a_mark_every_100ms_up_to_the_lead_and_echoes_pace_the_rest():
    call = FloorCall(stream_sid="MZ1", pace=Pace(chunk_ms=20, mark_ms=100, lead_ms=600))
    first = call.say(GREETING)
    assert _kinds(first).count("media") == 30  # 600 ms of lead in 20 ms frames
    assert len(_marks(first)) == 6
    assert all(len(base64.b64decode(json.loads(m)["media"]["payload"])) == 20 * BYTES_PER_MS
               for m in first if json.loads(m)["event"] == "media")
    assert all(json.loads(m)["streamSid"] == "MZ1" for m in first)
    more = call.on_mark(_marks(first)[0])  # 100 ms played: 100 ms more may go
    assert _kinds(more) == ["media"] * 5 + ["mark"]
    assert call.on_mark("not-ours") == []
    for name in _marks(first)[1:] + _marks(more):
        call.on_mark(name)
    assert call.confirmed == 700 * BYTES_PER_MS and call.sent == (700 + 600) * BYTES_PER_MS  # confirmed + the lead


def test_caller_voice_over_our_speech_clears_it_and_quiet_after_their_turn_starts_the_answer():
    call = FloorCall(stream_sid="MZ1")
    sent = call.say(GREETING)
    assert _kinds(call.on_frame(VOICE_LEVEL, 1000.0)) == ["clear"]
    assert call.barge_ins == 1 and not call.speaking
    assert call.on_mark(_marks(sent)[0]) == [], "echoes of cleared marks send nothing more"
    assert call.on_frame(VOICE_LEVEL - 1, 1000.0 + END_SILENCE_MS - 20) == []  # still the caller's turn
    answer = call.on_frame(0.0, 1000.0 + END_SILENCE_MS)
    assert _kinds(answer)[0] == "media" and call.speaking and call.audio == ANSWER
    assert call.on_frame(0.0, 5000.0) == [], "one answer per caller turn"


def test_the_hub_handles_every_frame_of_a_tick_at_once_and_observes_each():
    due: list = []
    seen: list[float] = []
    hub = FrameHub(0.008, seen.append, call_later=lambda d, cb: due.append(cb))

    class Stream:
        closed = False

        def __init__(self) -> None:
            self.call = FloorCall(stream_sid="MZ")
            self.call.say(GREETING)
            self.out: list[str] = []

        def send(self, msgs: list[str]) -> None:
            self.out += msgs

    loud, quiet = Stream(), Stream()
    hub.push(loud, bytes([0x00]) * 160)   # mu-law 0x00: full scale
    hub.push(quiet, bytes([0xFF]) * 160)  # mu-law 0xFF: zero
    assert len(due) == 1
    due.pop()()
    assert _kinds(loud.out) == ["clear"] and quiet.out == []
    assert len(seen) == 2 and all(s >= 0 for s in seen)


def test_the_floor_app_speaks_the_twilio_wire_the_simulator_expects():
    app = create_floor_app()
    with TestClient(app) as client:
        r = client.post("/twilio/voice", data={"CallSid": "CA1", "From": "+1"})
        assert parse_connect_stream(r.text).url.endswith("/twilio/stream")
        assert client.get("/api/calls/CA1").json()["state"] == "live"
        with client.websocket_connect("/twilio/stream") as ws:
            ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            ws.send_text(json.dumps({"event": "start", "streamSid": "MZ1", "start": {
                "streamSid": "MZ1", "callSid": "CA1", "customParameters": {}}}))
            assert json.loads(ws.receive_text())["event"] == "media"  # the greeting
            ws.send_text(json.dumps({"event": "media", "streamSid": "MZ1", "media": {
                "payload": base64.b64encode(bytes([0xFF]) * 160).decode()}}))
            ws.send_text(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {}}))
        assert client.get("/api/calls/CA1").json()["state"] == "ended"
        metrics = client.get("/metrics").text
        assert "turngate_frame_handling_seconds_count" in metrics and "process_cpu_seconds_total" in metrics


def test_the_deepgram_fake_starts_its_script_again_when_asked_to_cycle():
    from turngate.testing.fakes.deepgram_server import DeepgramServer, Utterance

    fake = DeepgramServer([Utterance(final="one"), Utterance(final="two")], cycle=True)
    assert [fake._next().final for _ in range(5)] == ["one", "two", "one", "two", "one"]
    once = DeepgramServer([Utterance(final="one")])
    assert [once._next().final for _ in range(2)] == ["one", ""]


def _bench_load():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "load.py"
    spec = importlib.util.spec_from_file_location("bench_load", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_load_points_only_the_chosen_providers_at_the_fake_cloud(tmp_path):
    load = _bench_load()
    embedded = load.gateway_env(tmp_path, 40, "embedded", "scripted", None)
    assert embedded["TURNGATE_STT"] == "scripted" and "TURNGATE_TTS" not in embedded
    tts = load.gateway_env(tmp_path, 40, "fake-cloud", "scripted", "http://127.0.0.1:1")
    assert tts["TURNGATE_TTS"] == "deepgram" and tts["TURNGATE_STT"] == "scripted"
    assert tts["TURNGATE_DEEPGRAM_URL"] == "http://127.0.0.1:1" and tts["DEEPGRAM_API_KEY"] == load.FAKE_KEY
    both = load.gateway_env(tmp_path, 40, "fake-cloud", "fake-cloud", "http://127.0.0.1:1")
    assert both["TURNGATE_STT"] == "deepgram"
    # Short secrets match inside ordinary JSON and make the gateway rewrite its answers.
    assert len(load.FAKE_KEY) >= 16 and len(tts["TURNGATE_STREAM_SECRET"]) >= 16


def test_bench_load_reads_a_live_processs_cpu_time():
    import os

    load = _bench_load()
    sum(i * i for i in range(200_000))  # some CPU of our own to read back
    assert load.process_cpu_s(os.getpid()) > 0


def test_the_simulator_loop_is_asyncio_unless_uvloop_is_asked_for():
    import pytest

    from turngate.loadtest import _loop_factory

    assert _loop_factory("asyncio") is None
    loop = _loop_factory("uvloop")()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    with pytest.raises(ValueError):
        _loop_factory("trio")
