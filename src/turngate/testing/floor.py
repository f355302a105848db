"""The transport floor: the least any Twilio Media Streams gateway does, and nothing else.

Theory of operation
-------------------
A load run measures the gateway *and* its transport: uvicorn, the WebSocket layer,
JSON, base64, the event loop, and (on one machine) the simulated callers. This
server keeps the transport and drops the gateway, so a load run against it says
what the stack costs before turngate does anything. It is driven by the same
simulator (``turngate loadtest``) and reports the same metrics:

- ``POST /twilio/voice`` answers ``<Connect><Stream>`` (no signature, no token);
- ``WS /twilio/stream``: every message is parsed as JSON; a ``media`` payload is
  base64-decoded and handed to a hub that, like the gateway's VAD hub, handles every
  frame that arrived in one tick (``tick_s`` after the first) at once: each frame's
  mu-law is decoded and its mean level compared with a threshold (the cheapest voice
  detector there is), and the call's turn state moves on;
- turns, so the scenarios run as they do against the gateway: a greeting when the
  stream starts; an answer after the caller's voice is followed by ``END_SILENCE_MS``
  of quiet; a ``clear`` when the caller's voice comes while we are speaking (barge-in);
- playback at the real pace: ``chunk_ms`` media frames, a mark every ``mark_ms``, at
  most ``lead_ms`` of audio sent and not yet confirmed by its mark's echo (Twilio
  echoes a mark when the audio before it has played, so the echoes set the pace);
- ``GET /api/calls/{sid}`` says ``ended`` once the call's ``stop`` came, as the
  simulator asks; ``/metrics`` has ``turngate_frame_handling_seconds`` (a frame's
  receipt to its tick's handling done, as the gateway measures it) and
  ``process_cpu_seconds_total``; ``/healthz``.

``FloorCall`` is the per-call engine, pure (bytes and ms in, messages out), so the
tests step it without a socket.

    python -m turngate.testing.floor --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..audio import mulaw
from ..audio.mulaw import DECODE_TABLE
from ..server.metrics import FRAME_BUCKETS
from ..twilio.twiml import connect_stream

BYTES_PER_MS = 8
GREETING_MS = 3000
ANSWER_MS = 6000
END_SILENCE_MS = 600
VOICE_LEVEL = 500.0  # mean |sample| of a voiced 20 ms frame (about -36 dBFS); line noise sits below
_TONE_HZ = 300.0
ENDED_KEPT = 10_000  # ended call ids remembered for /api/calls


def _voice(ms: int) -> bytes:
    """What we "say": a tone in mu-law (its content costs nothing per frame; sending it does)."""
    t = np.arange(ms * BYTES_PER_MS) / 8000.0
    return mulaw.encode((6000 * np.sin(2 * np.pi * _TONE_HZ * t)).astype(np.int16))


@dataclass(frozen=True, slots=True, kw_only=True)
class Pace:
    chunk_ms: int = 20
    mark_ms: int = 100
    lead_ms: int = 600


@dataclass(slots=True)
class FloorCall:
    """One call's turns and playback. Every method returns the messages to send, as text."""

    stream_sid: str
    pace: Pace = field(default_factory=Pace)
    audio: bytes = b""           # what is being said now
    sent: int = 0                # bytes of ``audio`` sent
    confirmed: int = 0           # bytes confirmed played by mark echoes
    marks: dict[str, int] = field(default_factory=dict)  # pending mark -> end offset
    epoch: int = 0               # a clear starts a new epoch, so stale echoes are ignored
    voiced_ms: float | None = None   # when the caller's voice was last heard; None: not since our turn
    barge_ins: int = 0

    @property
    def speaking(self) -> bool:
        return self.confirmed < len(self.audio)

    def say(self, audio: bytes) -> list[str]:
        self.audio, self.sent, self.confirmed, self.marks = audio, 0, 0, {}
        self.epoch += 1
        return self._top_up()

    def _top_up(self) -> list[str]:
        out: list[str] = []
        chunk = self.pace.chunk_ms * BYTES_PER_MS
        every = self.pace.mark_ms * BYTES_PER_MS
        limit = min(len(self.audio), self.confirmed + self.pace.lead_ms * BYTES_PER_MS)
        while self.sent < limit:
            end = min(self.sent + chunk, len(self.audio))
            # One media message per chunk: base64 and JSON of every outbound frame are
            # part of the floor (a gateway cannot send audio without them).
            out.append(json.dumps({"event": "media", "streamSid": self.stream_sid, "media": {
                "payload": base64.b64encode(self.audio[self.sent:end]).decode("ascii")}}))
            self.sent = end
            if end % every == 0 or end == len(self.audio):
                name = f"f:{self.epoch}:{end}"
                self.marks[name] = end
                out.append(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}))
        return out

    def on_mark(self, name: str) -> list[str]:
        end = self.marks.pop(name, None)
        if end is None:
            return []  # an echo from before a clear
        self.confirmed = max(self.confirmed, end)
        return self._top_up()

    def on_frame(self, level: float, now_ms: float) -> list[str]:
        """The caller's frame, as its mean level, at ``now_ms`` on any monotonic clock."""
        if level >= VOICE_LEVEL:
            self.voiced_ms = now_ms
            if self.speaking:
                self.barge_ins += 1
                self.audio, self.sent, self.confirmed, self.marks = b"", 0, 0, {}
                self.epoch += 1
                return [json.dumps({"event": "clear", "streamSid": self.stream_sid})]
            return []
        if self.voiced_ms is not None and not self.speaking and now_ms - self.voiced_ms >= END_SILENCE_MS:
            self.voiced_ms = None
            return self.say(ANSWER)
        return []


GREETING = _voice(GREETING_MS)
ANSWER = _voice(ANSWER_MS)


class FrameHub:
    """Every media frame of a tick, from every call, handled in one go ``tick_s`` after the
    first, as the gateway's VAD hub does (server/vadhub.py), so frame latency means the same."""

    def __init__(self, tick_s: float, observe: Callable[[float], None],
                 call_later: Callable[[float, Callable[[], None]], Any] | None = None) -> None:
        self.tick_s = tick_s
        self.observe = observe
        self._call_later = call_later
        self._pending: list[tuple["FloorStream", bytes, float]] = []
        self._scheduled = False

    def push(self, stream: "FloorStream", payload: bytes) -> None:
        self._pending.append((stream, payload, time.perf_counter()))
        if not self._scheduled:
            self._scheduled = True
            later = self._call_later or asyncio.get_running_loop().call_later
            later(self.tick_s, self.run)

    def run(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        pcm = DECODE_TABLE.take(np.frombuffer(b"".join(p for _, p, _ in pending), dtype=np.uint8))
        sizes = [len(p) for _, p, _ in pending]
        if len(set(sizes)) == 1:
            levels = np.abs(pcm.reshape(len(pending), sizes[0]).astype(np.int32)).mean(axis=1).tolist()
        else:
            bounds = np.cumsum([0] + sizes)
            levels = [float(np.abs(pcm[a:b].astype(np.int32)).mean()) if b > a else 0.0
                      for a, b in zip(bounds[:-1], bounds[1:])]
        now_ms = time.monotonic() * 1000.0
        for (stream, _, _), level in zip(pending, levels):
            if not stream.closed:
                stream.send(stream.call.on_frame(level, now_ms))
        done = time.perf_counter()
        for _, _, t in pending:
            self.observe(done - t)


class FloorStream:
    """One WebSocket: receive, parse, hand media to the hub; a sender drains what is queued."""

    def __init__(self, ws: WebSocket, hub: FrameHub, pace: Pace) -> None:
        self.ws, self.hub, self.pace = ws, hub, pace
        self.call = FloorCall(stream_sid="", pace=pace)
        self.call_sid = ""
        self.closed = False
        self._out: list[str] = []
        self._ready = asyncio.Event()

    def send(self, msgs: list[str]) -> None:
        if msgs:
            self._out.extend(msgs)
            self._ready.set()

    async def _sender(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            out, self._out = self._out, []
            for text in out:
                await self.ws.send_text(text)

    async def run(self, ended: Callable[[str], None]) -> None:
        sender = asyncio.create_task(self._sender())
        try:
            while True:
                try:
                    msg = json.loads(await self.ws.receive_text())
                except WebSocketDisconnect:
                    return
                event = msg.get("event")
                if event == "media":
                    self.hub.push(self, base64.b64decode(msg["media"]["payload"]))
                elif event == "mark":
                    self.send(self.call.on_mark(msg["mark"]["name"]))
                elif event == "start":
                    self.call_sid = msg["start"]["callSid"]
                    self.call.stream_sid = msg["start"]["streamSid"]
                    self.send(self.call.say(GREETING))
                elif event == "stop":
                    return
        finally:
            self.closed = True
            sender.cancel()
            if self.call_sid:
                ended(self.call_sid)


def create_floor_app(*, tick_s: float = 0.008, pace: Pace = Pace()) -> Starlette:
    registry = CollectorRegistry()
    frame_seconds = Histogram("turngate_frame_handling_seconds", "Caller frame receipt to its tick handled",
                              buckets=FRAME_BUCKETS, registry=registry)
    ProcessCollector(registry=registry)
    hub = FrameHub(tick_s, frame_seconds.observe)
    ended: OrderedDict[str, None] = OrderedDict()

    def call_ended(sid: str) -> None:
        ended[sid] = None
        while len(ended) > ENDED_KEPT:
            ended.popitem(last=False)

    async def voice(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        host = request.headers.get("host", "127.0.0.1")
        twiml = connect_stream(f"ws://{host}/twilio/stream", {"from": form.get("From", "")[:64]})
        return Response(twiml, media_type="application/xml")

    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        await FloorStream(ws, hub, pace).run(call_ended)

    async def call_detail(request: Request) -> Response:
        sid = request.path_params["call_id"]
        if sid not in ended:
            return JSONResponse({"call_id": sid, "state": "live"})
        return JSONResponse({"call_id": sid, "state": "ended", "decisions": [], "context": [], "transcript": []})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[
        Route("/twilio/voice", voice, methods=["POST"]),
        WebSocketRoute("/twilio/stream", stream),
        Route("/api/calls/{call_id}", call_detail),
        Route("/metrics", metrics),
        Route("/healthz", healthz),
    ])


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from ..server.run import _has_sansio

    ap = argparse.ArgumentParser(prog="python -m turngate.testing.floor", description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--tick-ms", type=float, default=8.0, help="the frame hub's tick (the gateway's VAD tick: 8)")
    ap.add_argument("--chunk-ms", type=int, default=20, help="outbound media frame length")
    args = ap.parse_args(argv)
    app = create_floor_app(tick_s=args.tick_ms / 1000.0, pace=Pace(chunk_ms=args.chunk_ms))
    # The gateway's uvicorn settings (server/run.py), so the transport is the same one.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ws="websockets-sansio" if _has_sansio() else "websockets", ws_max_size=1 << 20,
                ws_per_message_deflate=False, lifespan="off")


if __name__ == "__main__":
    main()
