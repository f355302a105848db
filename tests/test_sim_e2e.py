"""The simulator end to end over a real HTTP webhook and a real WebSocket, against a small fake gateway.

The fake gateway is deliberately simple and runs on the *audio* clock it reads from
the media timestamps, so the run does not depend on machine load: it greets, answers
the caller's first turn with a long eight-word answer (400 ms of tone per word, sent
all at once in 100 ms chunks each followed by a mark carrying its byte offset), and
on caller energy during its playback sends ``clear`` and abandons, recording what
was heard from the marks echoed *before* the clear.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from turngate.sim.audio import read_wav, ulaw_decode, ulaw_encode
from turngate.sim.cli import simulate_main
from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario
from turngate.sim.webhook import twilio_signature

WORD_MS = 400
GREETING = "hello how can I help".split()
ANSWER = "our opening hours are nine to five weekdays".split()
AFTER_STOP = "okay go ahead".split()


class FakeGateway:
    def __init__(self, auth_token: str | None = None) -> None:
        self.auth_token = auth_token
        self.base = ""
        self.calls: dict[str, dict] = {}
        self.inbound: dict[str, list[dict]] = defaultdict(list)
        self.sent_marks: dict[str, list[str]] = defaultdict(list)
        self.app = Starlette(routes=[
            Route("/twilio/voice", self.voice, methods=["POST"]),
            WebSocketRoute("/twilio/stream", self.stream),
            Route("/api/calls/{call_id}", self.get_call),
        ])

    async def voice(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if self.auth_token and request.headers.get("x-twilio-signature") != twilio_signature(
                self.auth_token, str(request.url), form):
            return Response("bad signature", status_code=403)
        self.calls[form["CallSid"]] = {"call_id": form["CallSid"], "state": "ringing", "decisions": [],
                                       "context": [], "transcript": [], "webhook": form}
        ws = self.base.replace("http://", "ws://") + "/twilio/stream"
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{ws}">'
                        f'<Parameter name="token" value="tok-{form["CallSid"]}"/></Stream></Connect></Response>',
                        media_type="text/xml")

    async def get_call(self, request: Request) -> Response:
        c = self.calls.get(request.path_params["call_id"])
        if c is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({k: c[k] for k in ("call_id", "state", "decisions", "context", "transcript")})

    async def stream(self, ws: WebSocket) -> None:
        if self.auth_token and ws.headers.get("x-twilio-signature") != twilio_signature(
                self.auth_token, str(ws.url), {}):
            await ws.close(code=1008, reason="bad signature")
            return
        await ws.accept()
        s = _StreamState(self, ws)
        with contextlib.suppress(Exception):
            async for text in ws.iter_text():
                msg = json.loads(text)
                await s.on(msg)
                if msg.get("event") == "stop":
                    break


class _StreamState:
    def __init__(self, gw: FakeGateway, ws: WebSocket) -> None:
        self.gw, self.ws = gw, ws
        self.call: dict | None = None
        self.sid = ""
        self.now = 0
        self.words: list[str] = []
        self.sent_bytes = 0  # of the current utterance
        self.heard_bytes = 0
        self.cleared = False
        self.voiced = 0
        self.unvoiced = 0
        self.caller_spoke = False
        self.answered = 0
        self.paused_at: int | None = None

    def decide(self, gate: str, outcome: str, reason: str, **evidence) -> None:
        d = self.call["decisions"]
        d.append({"call_id": self.call["call_id"], "seq": len(d) + 1, "at_ms": self.now, "gate": gate,
                  "outcome": outcome, "reason": reason, "rule": f"fake.{reason}", "policy_version": "test",
                  "evidence": evidence})

    async def speak(self, words: list[str]) -> None:
        self.words, self.sent_bytes, self.heard_bytes, self.cleared = words, 0, 0, False
        t = np.arange(WORD_MS * 8) / 8000.0
        for i, _ in enumerate(words):
            tone = ulaw_encode((6000 * np.sin(2 * np.pi * (300 + 40 * i) * t)).astype(np.int16))
            for j in range(0, len(tone), 800):
                chunk = tone[j : j + 800]
                self.sent_bytes += len(chunk)
                await self.ws.send_text(json.dumps({"event": "media", "streamSid": self.sid,
                                                    "media": {"payload": base64.b64encode(chunk).decode()}}))
                name = f"b:{self.sent_bytes}"
                self.gw.sent_marks[self.call["call_id"]].append(name)
                await self.ws.send_text(json.dumps({"event": "mark", "streamSid": self.sid, "mark": {"name": name}}))

    def heard_text(self) -> str:
        n = self.heard_bytes // (WORD_MS * 8)
        return " ".join(self.words[:n])

    @property
    def speaking(self) -> bool:
        return not self.cleared and self.heard_bytes < self.sent_bytes

    async def on(self, msg: dict) -> None:
        ev = msg["event"]
        if self.call is not None:
            self.gw.inbound[self.call["call_id"]].append(msg)
        if ev == "connected":
            self._connected = msg
        elif ev == "start":
            self.sid = msg["streamSid"]
            self.call = self.gw.calls[msg["start"]["callSid"]]
            assert msg["start"]["customParameters"]["token"] == f"tok-{self.call['call_id']}"
            self.gw.inbound[self.call["call_id"]] += [self._connected, msg]
            self.call["state"] = "live"
            await self.speak(GREETING)
        elif ev == "mark":
            if not self.cleared:
                self.heard_bytes = int(msg["mark"]["name"].split(":")[1])
        elif ev == "dtmf":
            self.decide("guard", "redact", "dtmf_digits", digit="*")
        elif ev == "stop":
            self.call["state"] = "ended"
        elif ev == "media":
            self.now = int(msg["media"]["timestamp"])
            pcm = ulaw_decode(base64.b64decode(msg["media"]["payload"]))
            loud = float(np.sqrt(np.mean(pcm.astype(float) ** 2))) > 300
            self.voiced = self.voiced + 1 if loud else 0
            self.unvoiced = 0 if loud else self.unvoiced + 1
            if self.paused_at is not None:
                if self.voiced >= 3:  # sustained speech confirms the interruption
                    self.decide("turn", "abandon", "speech_confirmed", heard_text=self.heard_text())
                    self.call["context"].append({"role": "assistant", "content": self.heard_text()})
                    self.paused_at = None
                    self.caller_spoke = True
                return
            if self.speaking and self.voiced >= 2:
                await self.ws.send_text(json.dumps({"event": "clear", "streamSid": self.sid}))
                self.cleared = True
                self.paused_at = self.now
                self.decide("turn", "pause", "caller_sound", heard_text=self.heard_text())
                return
            if loud and not self.speaking:
                self.caller_spoke = True
            if self.caller_spoke and self.unvoiced >= 20 and not self.speaking:
                self.caller_spoke = False
                self.decide("turn", "end_of_turn", "silence")
                self.answered += 1
                if self.answered == 1:
                    self.decide("route", "routed", "intent", route="appointment_change")
                    await self.speak(ANSWER)
                else:
                    await self.speak(AFTER_STOP)


@contextlib.asynccontextmanager
async def running(gw: FakeGateway):
    server = uvicorn.Server(uvicorn.Config(gw.app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    gw.base = f"http://127.0.0.1:{port}"
    try:
        yield gw.base
    finally:
        server.should_exit = True
        await task


SCENARIO = """
name: fake_interrupt
description: interrupt a long answer 1 s in
voice: rms
steps:
  - wait_for: bot_done
    gap_ms: 300
  - say: "I need to move my appointment"
  - wait_for: bot_speaking
    offset_ms: 1000
  - say: "stop, wait"
  - wait_for: bot_done
    gap_ms: 300
  - dtmf: "12"
  - hangup
expect:
  route: appointment_change
  barge_ins: [{outcome: abandon}]
  heard_text_contains: ["our opening"]
  heard_text_excludes: ["weekdays"]
  context_excludes: ["weekdays"]
  decisions: [{gate: guard, outcome: redact, reason: dtmf_digits}]
  no_decisions: [{gate: turn, outcome: resume}]
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "fake_interrupt.yaml"
    p.write_text(SCENARIO)
    return p


async def test_interrupting_a_long_answer_over_a_real_websocket_clears_and_marks_account_for_what_played(
        scenario_file, tmp_path):
    gw = FakeGateway(auth_token="s3cret")
    async with running(gw) as url:
        result = await run_scenario(load_scenario(scenario_file), url, speed=4.0, auth_token="s3cret",
                                    record_dir=tmp_path / "rec")
    assert result.passed, [c for c in result.expectations if not c.passed]
    (bi,) = result.barge_ins
    assert bi.outcome == "abandon" and bi.reaction_ms is not None and bi.reaction_ms > 0
    assert bi.heard_text and not bi.heard_text.endswith("weekdays")

    inbound = gw.inbound[result.call_id]
    # Twilio's order and numbering: connected (unnumbered), start = 1, then every message +1.
    assert inbound[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert inbound[1]["event"] == "start" and inbound[1]["sequenceNumber"] == "1"
    assert [int(m["sequenceNumber"]) for m in inbound[1:]] == list(range(1, len(inbound)))
    assert inbound[-1]["event"] == "stop"
    media = [m for m in inbound if m["event"] == "media"]
    assert [int(m["media"]["timestamp"]) for m in media] == [20 * i for i in range(len(media))]
    assert [m["dtmf"]["digit"] for m in inbound if m["event"] == "dtmf"] == ["1", "2"]
    # Every mark the gateway sent came back exactly once, in order ...
    echoed = [m["mark"]["name"] for m in inbound if m["event"] == "mark"]
    assert echoed == gw.sent_marks[result.call_id]
    # ... and the marks echoed before the clear never claim more than the audio that played.
    assert result.stats["clears"] == 1
    assert result.stats["bot_bytes_played"] + result.stats["bot_bytes_dropped"] == result.stats["bot_bytes_received"]
    answer_start = next(d["at_ms"] for d in result.decisions if d["gate"] == "route")
    pause = next(d for d in result.decisions if d["outcome"] == "pause")
    heard_words = len(pause["evidence"]["heard_text"].split())
    assert heard_words * WORD_MS <= pause["at_ms"] - answer_start
    # The caller spoke 1 s into the answer *as played*, not as sent (all 3.2 s were sent at once).
    stop_wait = next(u for u in result.utterances if u.label == "stop, wait")
    span = next(s for s in result.bot_spans if s.start_ms <= stop_wait.start_ms <= s.end_ms)
    assert 1000 <= stop_wait.start_ms - span.start_ms <= 1020
    assert result.context == [{"role": "assistant", "content": bi.heard_text}]
    # The recording of what the caller heard holds exactly the played audio, where it played.
    bot = read_wav(tmp_path / "rec" / f"fake_interrupt.{result.call_id}.bot.wav")
    assert len(bot) == result.duration_ms * 8
    assert np.count_nonzero(bot) == pytest.approx(result.stats["bot_bytes_played"], rel=0.03)  # zero crossings decode to 0
    mid = (span.start_ms + 500) * 8
    assert np.abs(bot[mid : mid + 160]).max() > 1000 and not bot[(span.end_ms + 40) * 8 :][:160].any()
    line = read_wav(tmp_path / "rec" / f"fake_interrupt.{result.call_id}.line.wav")
    assert np.abs(line[(stop_wait.onset_ms + 50) * 8 :][:800]).max() > 1000


async def test_a_wrong_auth_token_fails_the_call_with_the_webhooks_answer(scenario_file):
    gw = FakeGateway(auth_token="s3cret")
    async with running(gw) as url:
        result = await run_scenario(load_scenario(scenario_file), url, speed=4.0, auth_token="wrong")
    assert not result.passed and "403" in (result.error or "")
    assert result.expectations[0].name == "call" and not result.expectations[0].passed


async def test_simulate_command_prints_one_json_object_per_call_and_exits_by_the_expectations(
        scenario_file, tmp_path, capsys):
    failing = tmp_path / "wrong_route.yaml"
    failing.write_text(SCENARIO.replace("route: appointment_change", "route: payment").replace("name: fake_interrupt", "name: wrong_route"))
    gw = FakeGateway()
    async with running(gw) as url:
        args = argparse.Namespace(scenarios=[str(scenario_file), str(failing)], url=url, json=True, speed=4.0,
                                  concurrent=True)
        code = await asyncio.to_thread(simulate_main, args)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [r["scenario"] for r in lines] == ["fake_interrupt", "wrong_route"]
    assert [r["passed"] for r in lines] == [True, False]
    for r in lines:
        assert r["call_id"].startswith("CA") and len(r["call_id"]) == 34
        assert set(r["barge_ins"][0]) >= {"at_ms", "reaction_ms", "heard_text"}
        assert r["decisions"] and all({"name", "passed", "detail"} <= set(c) for c in r["expectations"])
    route = next(c for c in lines[1]["expectations"] if c["name"] == "route")
    assert not route["passed"] and "'payment'" in route["detail"] and "'appointment_change'" in route["detail"]


def test_simulate_command_exits_2_on_a_scenario_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [{say: hi, voice: bob}]")
    code = simulate_main(argparse.Namespace(scenarios=[str(bad)], url="http://127.0.0.1:9", json=True, speed=1.0))
    assert code == 2 and "bad.yaml: steps[0].voice" in capsys.readouterr().err
