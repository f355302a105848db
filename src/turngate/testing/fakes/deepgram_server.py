"""A local server that speaks Deepgram's documented wire protocols, for tests and rehearsal.

- ``WS /v1/listen`` (live STT): reads the query (``encoding``, ``sample_rate``,
  ``interim_results``, ...), takes binary audio and the text messages
  ``KeepAlive``, ``Finalize`` and ``CloseStream``; answers ``Results`` messages
  (``is_final``, ``speech_final``, ``from_finalize``, ``channel.alternatives[0]``
  with ``transcript``, ``confidence`` and ``words``), and on ``CloseStream`` the
  flushed final, a ``Metadata`` message and a normal close. Recognition is not
  the point: each connection (or each ``Finalize``) takes the next scripted
  ``Utterance``, whose partials come out as interim results as audio arrives.
- ``POST /v1/speak`` (Aura TTS): ``{"text": ...}`` with ``model``, ``encoding``,
  ``sample_rate``, ``container`` (WAV unless ``none``, as Deepgram's REST
  default); answers a tone (or flite speech) of a length proportional to the text.

Both require ``Authorization: Token <key>`` when the server has a key, and record
everything they received (``received``: ``("listen-open", {...})``,
``("listen-audio", nbytes)``, ``("listen-text", message)``, ``("speak", {...})``),
and what the listen socket sent (``("listen-sent", message)``), in one order.
Failures are set on ``listen`` / ``speak`` (``Behaviour``): refuse the handshake or
answer with an HTTP status, stall before the first result, disconnect mid-stream
with a close code (or mid-body), answer slowly.

    python -m turngate.testing.fakes.deepgram_server --port 8091 --say "I want to pay my bill"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from turngate.audio import mulaw
from turngate.testing.fakes._harness import Gate, Recorder, ServerThread

__all__ = ["DeepgramServer", "Utterance", "Behaviour", "tone"]


@dataclass
class Utterance:
    """What the fake "recognises" for one utterance: ``partials`` as interim results,
    one per ``bytes_per_partial`` of audio, then ``final`` split into ``is_final`` segments."""

    final: str | tuple[str, ...]
    partials: tuple[str, ...] = ()
    confidence: float = 0.9
    bytes_per_partial: int = 800  # 100 ms of 8 kHz mu-law

    @property
    def segments(self) -> tuple[str, ...]:
        return (self.final,) if isinstance(self.final, str) else self.final


@dataclass
class Behaviour:
    """How to misbehave. ``reject_status``: refuse the handshake / answer this HTTP
    status; ``stall``: never answer (STT) or hold the answer until ``gate`` opens
    (TTS); ``disconnect_after_bytes``: close with ``close_code``/``close_reason``
    after that much audio (STT) or cut the body half-way (TTS, any value);
    ``delay_s``: wait this long before each message or body chunk."""

    reject_status: int | None = None
    stall: bool = False
    disconnect_after_bytes: int | None = None
    close_code: int = 1011
    close_reason: str = "NET-0000"
    delay_s: float = 0.0
    ms_per_char: int = 60
    voice: str = "tone"  # or "flite"


@dataclass
class DeepgramServer:
    utterances: list[Utterance] = field(default_factory=list)
    api_key: str = ""
    listen: Behaviour = field(default_factory=Behaviour)
    speak: Behaviour = field(default_factory=Behaviour)

    # When the script runs out, start it again (load runs: every call's turns get words).
    cycle: bool = False

    def __post_init__(self) -> None:
        self.received = Recorder()
        self.gate = Gate()
        self._script: deque[Utterance] = deque(self.utterances)
        self.app = Starlette(routes=[WebSocketRoute("/v1/listen", self._listen),
                                     Route("/v1/speak", self._speak, methods=["POST"])])

    def add(self, *utterances: Utterance) -> None:
        self._script.extend(utterances)

    def running(self) -> ServerThread:
        return _Running(self)

    # -- records ------------------------------------------------------------------------

    def texts(self) -> list[dict]:
        return [m for kind, m in self.received.snapshot() if kind == "listen-text"]

    def audio_bytes(self) -> int:
        return sum(n for kind, n in self.received.snapshot() if kind == "listen-audio")

    def opened(self) -> list[dict]:
        return [m for kind, m in self.received.snapshot() if kind == "listen-open"]

    def speak_requests(self) -> list[dict]:
        return [m for kind, m in self.received.snapshot() if kind == "speak"]

    # -- live STT -----------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        return not self.api_key or headers.get("authorization") == f"Token {self.api_key}"

    async def _listen(self, ws: WebSocket) -> None:
        headers = {k.lower(): v for k, v in ws.headers.items()}
        query = dict(ws.query_params)
        self.received.add(("listen-open", {"query": query, "query_items": list(ws.query_params.multi_items()),
                                           "headers": headers}))
        b = self.listen
        status = b.reject_status or (None if self._authorized(headers) else 401)
        if status:
            await ws.send_denial_response(JSONResponse(_err(status), status_code=status,
                                                       headers={"dg-error": _err(status)["err_msg"]}))
            return
        await ws.accept()
        bytes_per_sample = 2 if query.get("encoding") == "linear16" else 1
        rate = int(query.get("sample_rate", "8000"))
        request_id = str(uuid.uuid4())
        utt = self._next()
        received, partials_sent, start_s = 0, 0, 0.0

        def seconds(n: int) -> float:
            return n / bytes_per_sample / rate

        async def send(msg: dict) -> None:
            if b.delay_s:
                await asyncio.sleep(b.delay_s)
            await ws.send_text(json.dumps(msg))
            self.received.add(("listen-sent", msg))

        async def flush(from_finalize: bool) -> None:
            nonlocal utt, start_s, partials_sent
            end_s = seconds(received)
            segs = [s for s in utt.segments if s] if utt else []
            span = (end_s - start_s) / max(1, len(segs))
            for i, seg in enumerate(segs):
                await send(_results(seg, start_s + i * span, span, True, utt.confidence, request_id,
                                    from_finalize=from_finalize and i == len(segs) - 1))
            if from_finalize and not segs:
                await send(_results("", start_s, end_s - start_s, True, 0.0, request_id, from_finalize=True))
            start_s, partials_sent = end_s, 0
            utt = self._next() if from_finalize else None

        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if msg.get("bytes") is not None:
                    received += len(msg["bytes"])
                    self.received.add(("listen-audio", len(msg["bytes"])))
                    if b.disconnect_after_bytes is not None and received >= b.disconnect_after_bytes:
                        await ws.close(b.close_code, b.close_reason)
                        return
                    if b.stall or utt is None:
                        continue
                    while partials_sent < len(utt.partials) and received >= (partials_sent + 1) * utt.bytes_per_partial:
                        await send(_results(utt.partials[partials_sent], start_s, seconds(received) - start_s,
                                            False, utt.confidence * 0.8, request_id))
                        partials_sent += 1
                    continue
                try:
                    control = json.loads(msg.get("text") or "")
                except ValueError:
                    await ws.close(1008, "DATA-0000")  # text that is not a control message
                    return
                self.received.add(("listen-text", control))
                if b.stall:
                    continue
                if control.get("type") == "Finalize":
                    await flush(from_finalize=True)
                elif control.get("type") == "CloseStream":
                    await flush(from_finalize=False)
                    await send({"type": "Metadata", "transaction_key": "deprecated", "request_id": request_id,
                                "sha256": "0" * 64, "created": datetime.now(timezone.utc).isoformat(),
                                "duration": seconds(received), "channels": 1})
                    await ws.close(1000)
                    return
        except WebSocketDisconnect:
            return

    def _next(self) -> Utterance | None:
        if not self._script and self.cycle:
            self._script.extend(self.utterances)
        return self._script.popleft() if self._script else Utterance(final="")

    # -- Aura TTS -----------------------------------------------------------------------

    async def _speak(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        self.received.add(("speak", {"query": query, "headers": headers, "json": body}))
        b = self.speak
        if not self._authorized(headers):
            return JSONResponse(_err(401), status_code=401)
        if b.stall:
            await self.gate.wait()
        if b.reject_status:
            return JSONResponse(_err(b.reject_status), status_code=b.reject_status)
        text = (body or {}).get("text") if isinstance(body, dict) else None
        encoding = query.get("encoding", "linear16")
        if not text or encoding not in ("mulaw", "linear16"):
            return JSONResponse(_err(400), status_code=400)
        rate = int(query.get("sample_rate", "24000"))
        pcm = _voice(text, rate, b)
        audio = mulaw.encode(pcm) if encoding == "mulaw" else pcm.astype("<i2").tobytes()
        if query.get("container", "wav") == "wav":
            audio = _wav(audio, rate, encoding)
        headers_out = {"dg-request-id": str(uuid.uuid4()), "dg-model-name": query.get("model", "aura-asteria-en"),
                       "dg-char-count": str(len(text)), "content-length": str(len(audio))}
        media = "audio/basic" if encoding == "mulaw" else "audio/l16"
        if not b.delay_s and b.disconnect_after_bytes is None:
            return Response(audio, media_type=media, headers=headers_out)

        async def chunks():
            step = max(1, len(audio) // 4)
            for i in range(0, len(audio), step):
                if b.disconnect_after_bytes is not None and i >= len(audio) // 2:
                    raise ConnectionResetError("fake: cut mid-body")
                if b.delay_s:
                    await asyncio.sleep(b.delay_s)
                yield audio[i:i + step]

        return StreamingResponse(chunks(), media_type=media, headers=headers_out)


def tone(ms: int, rate: int = 8000, *, hz: float = 440.0, lead_ms: int = 40) -> np.ndarray:
    """``ms`` of int16 audio: ``lead_ms`` of silence, a tone, ``lead_ms`` of silence."""
    n, lead = rate * ms // 1000, rate * lead_ms // 1000
    t = np.arange(max(0, n - 2 * lead)) / rate
    body = (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    return np.concatenate([np.zeros(lead, np.int16), body, np.zeros(lead, np.int16)])


def _voice(text: str, rate: int, b: Behaviour) -> np.ndarray:
    if b.voice == "flite" and rate == 8000:
        from turngate.speech.flite_tts import FliteTts
        return mulaw.decode(FliteTts().synthesize(text).audio)
    return tone(max(200, len(text) * b.ms_per_char), rate)


def _wav(data: bytes, rate: int, encoding: str) -> bytes:
    fmt, width = (7, 1) if encoding == "mulaw" else (1, 2)
    header = (b"fmt " + (16).to_bytes(4, "little") + fmt.to_bytes(2, "little") + (1).to_bytes(2, "little")
              + rate.to_bytes(4, "little") + (rate * width).to_bytes(4, "little") + width.to_bytes(2, "little")
              + (8 * width).to_bytes(2, "little"))
    body = header + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body


def _err(status: int) -> dict:
    codes = {400: ("Bad Request", "Invalid request."), 401: ("INVALID_AUTH", "Invalid credentials."),
             429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
             503: ("SERVICE_UNAVAILABLE", "Service unavailable.")}
    code, msg = codes.get(status, ("INTERNAL_SERVER_ERROR", "Internal server error."))
    return {"err_code": code, "err_msg": msg, "request_id": str(uuid.uuid4())}


def _results(text: str, start: float, duration: float, is_final: bool, confidence: float, request_id: str,
             *, from_finalize: bool = False) -> dict:
    tokens = text.split()
    step = duration / max(1, len(tokens))
    words = [{"word": t.strip(".,?!").lower(), "start": round(start + i * step, 3),
              "end": round(start + (i + 1) * step, 3), "confidence": confidence, "punctuated_word": t}
             for i, t in enumerate(tokens)]
    return {"type": "Results", "channel_index": [0, 1], "duration": round(duration, 3), "start": round(start, 3),
            "is_final": is_final, "speech_final": False, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": confidence, "words": words}]},
            "metadata": {"request_id": request_id, "model_info": {"name": "fake", "version": "0", "arch": "fake"},
                         "model_uuid": "00000000-0000-0000-0000-000000000000"}}


class _Running(ServerThread):
    def __init__(self, fake: DeepgramServer) -> None:
        super().__init__(fake.app)
        self._fake = fake

    def stop(self) -> None:
        self._fake.gate.open()  # release stalled answers so the server can stop
        super().stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m turngate.testing.fakes.deepgram_server", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--say", action="append", default=[], help="final transcript of the next utterance (repeatable)")
    ap.add_argument("--api-key", default="", help="require this key (default: accept any)")
    ap.add_argument("--cycle", action="store_true", help="start the --say script again when it runs out")
    ap.add_argument("--words-per-s", type=float, default=10.0,
                    help="one interim result per word, at this pace of the caller's 8 kHz mu-law audio")
    args = ap.parse_args(argv)
    per_word = max(1, int(8000 / args.words_per_s))
    fake = DeepgramServer([Utterance(final=s, partials=tuple(" ".join(s.split()[:k]) for k in range(1, len(s.split()))),
                                     bytes_per_partial=per_word)
                           for s in args.say], api_key=args.api_key, cycle=args.cycle)
    server = ServerThread(fake.app, port=args.port)
    print(f"fake Deepgram on {server.url} (listen: ws://127.0.0.1:{server.port}/v1/listen, speak: /v1/speak)",
          flush=True)
    server._run()


if __name__ == "__main__":
    main()
