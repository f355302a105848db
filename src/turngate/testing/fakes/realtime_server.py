"""A local server that speaks the OpenAI Realtime WebSocket protocol (beta event
names), for tests and for rehearsing a policy without a key.

``WS /v1/realtime?model=...`` with ``Authorization: Bearer <key>``: sends
``session.created``; answers ``session.update`` with ``session.updated``;
buffers ``input_audio_buffer.append`` (base64) and on ``commit`` sends
``input_audio_buffer.committed`` and ``conversation.item.created`` (an empty
commit is the documented ``input_audio_buffer_commit_empty`` error);
``response.create`` streams ``response.created``, ``response.output_item.added``,
``response.audio.delta`` and ``response.audio_transcript.delta`` in chunks, then
``response.done`` with usage. ``response.cancel`` ends the active response with
status ``cancelled`` (or is an error when none is active);
``conversation.item.truncate`` is checked like the real server (an assistant
item, ``content_index`` 0, ``audio_end_ms`` not beyond the audio it holds) and
answered with ``conversation.item.truncated``.

Every client event is recorded in ``received`` (parsed JSON, in order), so tests
can scan request bodies and assert the exact truncate. Each ``response.create``
takes the next scripted ``Reply``, which can stall before the first delta, hold
after some chunks until cancelled, disconnect mid-stream with a close code, answer
an ``error`` event, fail the response, or answer slowly.

    python -m turngate.testing.fakes.realtime_server --port 8092
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from turngate.audio import mulaw
from turngate.testing.fakes._harness import Recorder, ServerThread
from turngate.testing.fakes.deepgram_server import tone

__all__ = ["RealtimeServer", "Reply"]


@dataclass
class Reply:
    """How the fake answers one ``response.create``."""

    transcript: str = "Sure, I can help with that."
    audio_ms: int = 600
    chunk_ms: int = 100
    stall: bool = False                          # nothing after response.created until cancelled
    hold_after_chunks: int | None = None         # that many chunks, then wait for response.cancel
    send_after_cancel: int = 0                   # chunks still "in flight" after a cancel
    disconnect_after_chunks: int | None = None   # close the socket after that many chunks
    close_code: int = 1011
    error: dict[str, Any] | None = None          # an `error` event instead of a response
    fail: dict[str, Any] | None = None           # response.done status failed with this error
    delay_s: float = 0.0                         # before each chunk
    usage: dict[str, Any] = field(default_factory=lambda: {
        "total_tokens": 120, "input_tokens": 80, "output_tokens": 40,
        "input_token_details": {"audio_tokens": 70, "text_tokens": 10}})


@dataclass
class RealtimeServer:
    replies: list[Reply] = field(default_factory=list)
    api_key: str = ""
    reject_status: int | None = None
    default: Reply = field(default_factory=Reply)  # when the script has run out

    def __post_init__(self) -> None:
        self.received = Recorder()   # client events, parsed
        self.sent = Recorder()       # server events, parsed
        self.opened = Recorder()     # {"query": ..., "headers": ...} per connection
        self._replies: deque[Reply] = deque(self.replies)
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[WebSocketRoute("/v1/realtime", self._session)])

    def add(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    def running(self) -> ServerThread:
        return ServerThread(self.app)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received.snapshot() if e.get("type") == kind]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    async def _session(self, ws: WebSocket) -> None:
        headers = {k.lower(): v for k, v in ws.headers.items()}
        self.opened.add({"query": dict(ws.query_params), "headers": headers})
        status = self.reject_status
        if status is None and self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            status = 401
        if status:
            body = {"error": {"type": "invalid_request_error" if status < 500 else "server_error",
                              "code": {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status),
                              "message": f"fake: HTTP {status}"}}
            await ws.send_denial_response(JSONResponse(body, status_code=status))
            return
        await ws.accept()
        conn = _Connection(self, ws, ws.query_params.get("model", "gpt-4o-realtime-preview"))
        await conn.run()


class _Connection:
    def __init__(self, server: RealtimeServer, ws: WebSocket, model: str) -> None:
        self.server, self.ws = server, ws
        self.session: dict[str, Any] = {
            "id": server._id("sess"), "object": "realtime.session", "model": model,
            "modalities": ["text", "audio"], "instructions": "", "voice": "alloy",
            "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 200},
            "input_audio_transcription": None, "tools": [], "temperature": 0.8,
        }
        self.buffer = bytearray()
        self.items: dict[str, dict[str, Any]] = {}   # id -> {"role", "audio_ms"}
        self.last_item: str | None = None
        self.active: tuple[str, asyncio.Event, asyncio.Task[None]] | None = None
        self.lock = asyncio.Lock()

    async def send(self, event: dict[str, Any]) -> None:
        event = {"event_id": self.server._id("event"), **event}
        self.server.sent.add(event)
        async with self.lock:
            await self.ws.send_text(json.dumps(event))

    async def error(self, message: str, *, code: str | None = None, kind: str = "invalid_request_error",
                    event_id: str | None = None) -> None:
        await self.send({"type": "error", "error": {"type": kind, "code": code, "message": message,
                                                    "param": None, "event_id": event_id}})

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        try:
            while True:
                try:
                    event = json.loads(await self.ws.receive_text())
                except ValueError:
                    await self.error("The server could not parse the event as JSON.", code="invalid_json")
                    continue
                self.server.received.add(event)
                await self.handle(event)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if self.active is not None:
                self.active[2].cancel()

    async def handle(self, e: dict[str, Any]) -> None:
        kind, eid = e.get("type"), e.get("event_id")
        if kind == "session.update":
            self.session.update(e.get("session") or {})
            await self.send({"type": "session.updated", "session": self.session})
        elif kind == "input_audio_buffer.append":
            try:
                self.buffer += base64.b64decode(e.get("audio", ""), validate=True)
            except binascii.Error:
                await self.error("Invalid 'audio'. Expected base64-encoded audio.", code="invalid_value",
                                 event_id=eid)
        elif kind == "input_audio_buffer.commit":
            if len(self.buffer) < 800:  # the real server wants at least 100 ms
                await self.error("Error committing input audio buffer: buffer too small.",
                                 code="input_audio_buffer_commit_empty", event_id=eid)
                return
            item = self.server._id("item")
            await self.send({"type": "input_audio_buffer.committed", "previous_item_id": self.last_item,
                             "item_id": item})
            await self.add_item(item, "user", [{"type": "input_audio", "transcript": None}])
            self.buffer.clear()
        elif kind == "conversation.item.create":
            item = dict(e.get("item") or {})
            item.setdefault("id", self.server._id("item"))
            await self.add_item(item["id"], item.get("role", "user"), item.get("content") or [])
        elif kind == "response.create":
            if self.active is not None:
                await self.error("Conversation already has an active response",
                                 code="conversation_already_has_active_response", event_id=eid)
                return
            reply = self.server._replies.popleft() if self.server._replies else self.server.default
            rid, cancel = self.server._id("resp"), asyncio.Event()
            self.active = (rid, cancel, asyncio.create_task(self.respond(rid, cancel, reply)))
        elif kind == "response.cancel":
            if self.active is None or e.get("response_id") not in (None, self.active[0]):
                await self.error("Cancellation failed: no active response found",
                                 code="response_cancel_not_active", event_id=eid)
                return
            self.active[1].set()
        elif kind == "conversation.item.truncate":
            await self.truncate(e)
        elif kind == "input_audio_buffer.clear":
            self.buffer.clear()
            await self.send({"type": "input_audio_buffer.cleared"})
        else:
            await self.error(f"Invalid value: '{kind}'. Supported values are the client events.",
                             code="invalid_value", event_id=eid)

    async def add_item(self, item_id: str, role: str, content: list[Any]) -> None:
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                "role": role, "content": content}
        self.items[item_id] = {"role": role, "audio_ms": 0}
        await self.send({"type": "conversation.item.created", "previous_item_id": self.last_item, "item": item})
        self.last_item = item_id

    async def truncate(self, e: dict[str, Any]) -> None:
        item = self.items.get(e.get("item_id", ""))
        end = e.get("audio_end_ms")
        if item is None or item["role"] != "assistant":
            await self.error("Only assistant message items can be truncated.", code="invalid_value",
                             event_id=e.get("event_id"))
        elif e.get("content_index") != 0 or not isinstance(end, int) or end < 0 or end > item["audio_ms"]:
            await self.error(f"audio_end_ms {end} is beyond the item's {item['audio_ms']} ms of audio",
                             code="invalid_value", event_id=e.get("event_id"))
        else:
            item["audio_ms"] = end
            await self.send({"type": "conversation.item.truncated", "item_id": e["item_id"],
                             "content_index": 0, "audio_end_ms": end})

    async def respond(self, rid: str, cancel: asyncio.Event, r: Reply) -> None:
        try:
            await self._respond(rid, cancel, r)
        finally:
            self.active = None

    async def _respond(self, rid: str, cancel: asyncio.Event, r: Reply) -> None:
        if r.error is not None:
            await self.send({"type": "error", "error": {"param": None, "event_id": None, **r.error}})
            return
        await self.send({"type": "response.created", "response": {
            "id": rid, "object": "realtime.response", "status": "in_progress", "status_details": None,
            "output": [], "usage": None}})
        if r.stall:
            await cancel.wait()
            await self.done(rid, "cancelled", [], r)
            return
        item_id = self.server._id("item")
        ref = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "in_progress",
                "role": "assistant", "content": []}
        await self.send({"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item})
        await self.add_item(item_id, "assistant", [])
        await self.send({"type": "response.content_part.added", **ref, "part": {"type": "audio", "transcript": ""}})
        n = max(1, r.audio_ms // r.chunk_ms)
        words = r.transcript.split()
        audio = mulaw.encode(tone(n * r.chunk_ms, lead_ms=0))
        step = len(audio) // n
        sent_after_cancel = 0
        for i in range(n):
            if cancel.is_set():
                if sent_after_cancel >= r.send_after_cancel:
                    break
                sent_after_cancel += 1
            if r.hold_after_chunks == i:
                await cancel.wait()
                if r.send_after_cancel == 0:
                    break
                sent_after_cancel += 1
            if r.disconnect_after_chunks == i:
                await self.ws.close(r.close_code)
                return
            if r.delay_s:
                await asyncio.sleep(r.delay_s)
            await self.send({"type": "response.audio.delta", **ref,
                             "delta": base64.b64encode(audio[i * step:(i + 1) * step]).decode("ascii")})
            self.items[item_id]["audio_ms"] += r.chunk_ms
            chunk = words[i * len(words) // n:(i + 1) * len(words) // n]
            if chunk:
                await self.send({"type": "response.audio_transcript.delta", **ref,
                                 "delta": (" " if i and i * len(words) // n else "") + " ".join(chunk)})
        status = "cancelled" if cancel.is_set() else ("failed" if r.fail else "completed")
        if status == "completed":
            await self.send({"type": "response.audio.done", **ref})
            await self.send({"type": "response.audio_transcript.done", **ref, "transcript": r.transcript})
            await self.send({"type": "response.output_item.done", "response_id": rid, "output_index": 0,
                             "item": {**item, "status": "completed"}})
        await self.done(rid, status, [item], r)

    async def done(self, rid: str, status: str, output: list[Any], r: Reply) -> None:
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": "client_cancelled"}
        elif status == "failed":
            details = {"type": "failed", "error": r.fail}
        await self.send({"type": "response.done", "response": {
            "id": rid, "object": "realtime.response", "status": status, "status_details": details,
            "output": output, "usage": r.usage}})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m turngate.testing.fakes.realtime_server", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8092)
    ap.add_argument("--say", default=Reply().transcript, help="transcript of every answer")
    ap.add_argument("--api-key", default="", help="require this key (default: accept any)")
    args = ap.parse_args(argv)
    fake = RealtimeServer(api_key=args.api_key, default=Reply(transcript=args.say))
    server = ServerThread(fake.app, port=args.port)
    print(f"fake Realtime on ws://127.0.0.1:{server.port}/v1/realtime", flush=True)
    server._run()


if __name__ == "__main__":
    main()
