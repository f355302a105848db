"""Speech-to-speech over the OpenAI Realtime WebSocket protocol, with the gateway in
charge of turn-taking.

Theory of operation
-------------------
The model hears the caller's mu-law frames as they arrive and speaks mu-law back,
but it never decides when a turn ends or when it must stop:

- ``connect`` sends ``session.update`` with ``input_audio_format`` and
  ``output_audio_format`` ``g711_ulaw`` (Twilio's own bytes, no transcoding) and
  ``turn_detection: null`` (server VAD off), and waits for ``session.updated``;
- ``append_audio`` forwards caller audio (``input_audio_buffer.append``, base64);
- ``commit_and_respond`` is the gateway's end of the caller's turn: optional
  context items, ``input_audio_buffer.commit`` (skipped when nothing was
  appended: the server rejects an empty commit) and ``response.create``;
- ``cancel(heard_ms)`` is barge-in: ``response.cancel`` while a response is still
  being generated, then ``conversation.item.truncate`` of the assistant item with
  ``content_index: 0`` and ``audio_end_ms = heard_ms``, the audio the caller heard
  according to Twilio's mark echoes. The model generates faster than real time,
  so the response is often already done when the caller interrupts: then only the
  truncate goes out (a cancel with nothing active is an error event). Deltas of a
  cancelled response still in flight are dropped here, so none reaches playback.

``events()`` yields typed facts: ``AudioDelta``, ``TranscriptDelta``,
``ResponseDone`` (usage, status) and ``RealtimeError`` (kind, message). A reader
task feeds them through a bounded queue; when the consumer is slow the reader
stops reading and TCP pushes back (no event is dropped). Failures carry the
core's failure kinds: ``error``, ``rate_limited``, ``server_error``,
``disconnect``, ``timeout``, ``config``. ``connect`` raises ``RealtimeFailure``;
later failures arrive as ``RealtimeError`` events (``fatal=True`` when the socket
is gone, after which the iterator ends).

The beta event names are spoken (``OpenAI-Beta: realtime=v1``); the GA names of
the output events (``response.output_audio.delta``, ...) are understood too.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from turngate.core.events import ModelFailureKind
from turngate.errors import ProviderError
from turngate.speech.cloud import kind_for_status, redact

__all__ = ["RealtimeClient", "RealtimeFailure", "RealtimeEvent", "AudioDelta", "TranscriptDelta",
           "ResponseDone", "RealtimeError"]

_dc = dataclass(frozen=True, slots=True, kw_only=True)
_AUDIO_DELTA = ("response.audio.delta", "response.output_audio.delta")
_TEXT_DELTA = ("response.audio_transcript.delta", "response.output_audio_transcript.delta")


@_dc
class AudioDelta:
    """8 kHz mu-law audio of the assistant's answer."""

    audio: bytes
    response_id: str = ""
    item_id: str = ""


@_dc
class TranscriptDelta:
    """Text of what the audio says (for the output guard and the record)."""

    text: str
    response_id: str = ""


@_dc
class ResponseDone:
    """A response ended: ``status`` ``completed``, ``cancelled`` or ``incomplete``;
    ``usage`` the provider's integer counts (``input_tokens``, ``output_tokens``, ...)."""

    usage: tuple[tuple[str, int], ...] = ()
    response_id: str = ""
    status: str = "completed"


@_dc
class RealtimeError:
    kind: ModelFailureKind
    message: str
    code: str = ""
    response_id: str = ""
    fatal: bool = False  # the connection is gone; no more events follow


RealtimeEvent = AudioDelta | TranscriptDelta | ResponseDone | RealtimeError


class RealtimeFailure(ProviderError):
    """``connect`` (or a send on a dead socket) failed; ``kind`` says how."""

    def __init__(self, kind: ModelFailureKind, message: str, *, status: int | None = None) -> None:
        super().__init__("realtime", f"{kind}: {message}")
        self.kind: ModelFailureKind = kind
        self.status = status


_END = object()


class RealtimeClient:
    """One Realtime session (one call). Not shared between tasks that send concurrently."""

    def __init__(
        self,
        api_key: str,
        *,
        url: str = "wss://api.openai.com/v1/realtime",
        model: str = "gpt-4o-realtime-preview",
        instructions: str = "",
        voice: str = "alloy",
        connect_timeout_s: float = 10.0,
        response_timeout_s: float | None = None,
        queue_size: int = 256,
        session: dict[str, Any] | None = None,
    ) -> None:
        self._key = api_key
        base = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/")
        if not base.endswith("/v1/realtime"):
            base += "/v1/realtime"
        self.url = f"{base}?{urlencode({'model': model})}"
        self.session: dict[str, Any] = {
            "modalities": ["audio", "text"], "instructions": instructions, "voice": voice,
            "input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw",
            "turn_detection": None,
            **(session or {}),
        }
        self.connect_timeout_s = connect_timeout_s
        self.response_timeout_s = response_timeout_s
        self._queue: asyncio.Queue[object] = asyncio.Queue(queue_size)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self._uncommitted = 0
        self._requested = False          # response.create sent, response.created not seen yet
        self._cancel_next = False        # ... and cancelled before it was
        self._active: str | None = None  # the response being generated
        self._cancelled: set[str] = set()
        self._last_item: str | None = None
        self._audio_bytes: dict[str, int] = {}  # assistant item -> mu-law bytes received

    # -- the API ------------------------------------------------------------------------

    async def connect(self) -> None:
        headers = {"Authorization": f"Bearer {self._key}", "OpenAI-Beta": "realtime=v1"}
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                self._ws = await connect(self.url, additional_headers=headers, open_timeout=None,
                                         max_size=2**24, max_queue=64)
                await self._expect("session.created")
                await self._send({"type": "session.update", "session": self.session})
                await self._expect("session.updated")
        except TimeoutError:
            await self._abort()
            raise self._failure("timeout", f"session not ready within {self.connect_timeout_s} s") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body[:200].decode("utf-8", "replace") if exc.response.body else ""
            raise self._failure(kind_for_status(status), f"handshake refused: HTTP {status} {body}".strip(),
                                status=status) from None
        except InvalidHandshake as exc:
            raise self._failure("error", f"bad handshake: {exc}") from None
        except ConnectionClosed as exc:
            await self._abort()
            raise self._failure("disconnect", f"closed during set-up ({_close_text(exc)})") from None
        except OSError as exc:
            raise self._failure("disconnect", f"cannot connect: {exc}") from None
        self._reader = asyncio.create_task(self._read(), name="realtime-reader")

    async def append_audio(self, mulaw: bytes) -> None:
        if not mulaw:
            return
        await self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(mulaw).decode("ascii")})
        self._uncommitted += len(mulaw)

    async def commit_and_respond(self, *, instructions: str | None = None, context: Sequence[str] = ()) -> None:
        """End the caller's turn and ask for an answer. ``context`` items (already
        guarded and redacted by the gateway) go in as system messages first;
        ``instructions`` override the session's for this response only."""
        for text in context:
            await self._send({"type": "conversation.item.create", "item": {
                "type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}})
        if self._uncommitted:
            await self._send({"type": "input_audio_buffer.commit"})
            self._uncommitted = 0
        response: dict[str, Any] = {}
        if instructions is not None:
            response["instructions"] = instructions
        await self._send({"type": "response.create", **({"response": response} if response else {})})
        self._requested = True
        # heard_ms of a later cancel counts this answer's audio: never cut an earlier item.
        self._last_item = None
        self._cancel_next = False
        if self.response_timeout_s is not None:
            self._stop_watchdog()
            self._watchdog = asyncio.create_task(self._watch(self.response_timeout_s), name="realtime-watchdog")

    async def cancel(self, heard_ms: int) -> None:
        """Barge-in: stop the answer and cut the assistant's item to ``heard_ms`` of audio."""
        self._stop_watchdog()
        if self._active is not None:
            await self._send({"type": "response.cancel", "response_id": self._active})
            self._cancelled.add(self._active)
        elif self._requested:
            await self._send({"type": "response.cancel"})
            self._cancel_next = True
        item = self._last_item
        if item is not None:
            # The heard audio can only be less than what was received; a larger value
            # (a rounding slip) would make the server refuse the whole truncate.
            end = min(int(heard_ms), self._audio_bytes.get(item, 0) // 8)
            await self._send({"type": "conversation.item.truncate", "item_id": item, "content_index": 0,
                              "audio_end_ms": end})

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            ev = await self._queue.get()
            if ev is _END:
                self._queue.put_nowait(_END)  # any other iterator ends too
                return
            yield ev  # type: ignore[misc]

    def __aiter__(self) -> AsyncIterator[RealtimeEvent]:
        return self.events()

    async def close(self) -> None:
        """Close the session; iterators end after the events already queued."""
        self._closing = True
        self._stop_watchdog()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()  # it may be waiting for room in a queue nobody reads
            await asyncio.gather(self._reader, return_exceptions=True)
        while True:
            try:
                self._queue.put_nowait(_END)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()  # closing: the oldest unread event goes

    # -- reading ------------------------------------------------------------------------

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    await self._emit(RealtimeError(kind="error", message="a server message that is not JSON"))
                    continue
                await self._dispatch(msg)
        except ConnectionClosed:
            pass
        finally:
            self._stop_watchdog()
            if not self._closing:
                await self._emit(RealtimeError(kind="disconnect", fatal=True, response_id=self._active or "",
                                               message=f"connection closed ({_close_text_ws(ws)})"))
                await self._queue.put(_END)

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type", "")
        if kind == "response.created":
            rid = (msg.get("response") or {}).get("id", "")
            self._active, self._requested = rid, False
            if self._cancel_next:
                self._cancelled.add(rid)
                self._cancel_next = False
        elif kind == "response.output_item.added":
            item = msg.get("item") or {}
            if item.get("type") == "message" and item.get("role") == "assistant":
                self._note_item(item.get("id", ""))
        elif kind in _AUDIO_DELTA:
            rid = msg.get("response_id", "")
            if rid in self._cancelled:
                return
            item = msg.get("item_id", "")
            audio = base64.b64decode(msg.get("delta", ""))
            self._note_item(item)
            self._audio_bytes[item] = self._audio_bytes.get(item, 0) + len(audio)
            self._stop_watchdog()
            await self._emit(AudioDelta(audio=audio, response_id=rid, item_id=item))
        elif kind in _TEXT_DELTA:
            rid = msg.get("response_id", "")
            if rid not in self._cancelled:
                self._stop_watchdog()
                await self._emit(TranscriptDelta(text=msg.get("delta", ""), response_id=rid))
        elif kind == "response.done":
            await self._done(msg.get("response") or {})
        elif kind == "error":
            err = msg.get("error") or {}
            self._stop_watchdog()
            await self._emit(RealtimeError(kind=_error_kind(err), code=str(err.get("code") or ""),
                                           message=redact(str(err.get("message") or "error"), self._key)[:300]))
        # session.*, input_audio_buffer.*, conversation.item.*, rate_limits.updated and the
        # other response.* progress events change nothing the gateway acts on.

    async def _done(self, response: dict[str, Any]) -> None:
        rid, status = response.get("id", ""), response.get("status", "completed")
        if self._active == rid:
            self._active = None
        self._stop_watchdog()
        if status == "failed":
            err = (response.get("status_details") or {}).get("error") or {}
            await self._emit(RealtimeError(kind=_error_kind(err), code=str(err.get("code") or ""), response_id=rid,
                                           message=redact(str(err.get("message") or "response failed"),
                                                          self._key)[:300]))
            return
        usage = tuple((k, v) for k, v in (response.get("usage") or {}).items()
                      if isinstance(v, int) and not isinstance(v, bool))
        await self._emit(ResponseDone(usage=usage, response_id=rid, status=status))

    def _note_item(self, item: str) -> None:
        if item:
            self._last_item = item
            self._audio_bytes.setdefault(item, 0)

    async def _emit(self, ev: RealtimeEvent) -> None:
        await self._queue.put(ev)

    async def _watch(self, timeout: float) -> None:
        await asyncio.sleep(timeout)  # the provider's first-event deadline, cancelled by any event
        self._watchdog = None
        await self._emit(RealtimeError(kind="timeout", response_id=self._active or "",
                                       message=f"no response event within {timeout} s of response.create"))

    def _stop_watchdog(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # -- writing ------------------------------------------------------------------------

    async def _send(self, event: dict[str, Any]) -> None:
        if self._ws is None:
            raise self._failure("config", "not connected")
        try:
            await self._ws.send(json.dumps(event))
        except ConnectionClosed as exc:
            raise self._failure("disconnect", f"connection closed ({_close_text(exc)})") from None

    async def _expect(self, kind: str) -> dict[str, Any]:
        assert self._ws is not None
        while True:
            msg = json.loads(await self._ws.recv())
            if msg.get("type") == kind:
                return msg
            if msg.get("type") == "error":
                err = msg.get("error") or {}
                raise self._failure(_error_kind(err), str(err.get("message") or "error"))

    async def _abort(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    def _failure(self, kind: ModelFailureKind, message: str, *, status: int | None = None) -> RealtimeFailure:
        return RealtimeFailure(kind, redact(message, self._key)[:300], status=status)


def _error_kind(err: dict[str, Any]) -> ModelFailureKind:
    typ, code = str(err.get("type") or ""), str(err.get("code") or "")
    if "rate_limit" in code or typ in ("rate_limit_error", "rate_limit_exceeded"):
        return "rate_limited"
    if typ == "server_error" or code == "server_error":
        return "server_error"
    if typ in ("authentication_error", "permission_error") or code in ("invalid_api_key", "model_not_found",
                                                                       "insufficient_quota"):
        return "config"
    return "error"


def _close_text(exc: ConnectionClosed) -> str:
    frame = exc.rcvd
    return f"{frame.code} {frame.reason}".strip() if frame is not None else "1006 no close frame"


def _close_text_ws(ws: ClientConnection) -> str:
    code, reason = ws.close_code, ws.close_reason
    return f"{code} {reason or ''}".strip() if code is not None else "no close frame"
