"""Cloud streaming STT: Deepgram's live WebSocket API (``wss://api.deepgram.com/v1/listen``),
behind the same ``SttEngine``/``SttStream`` contract as pocketsphinx.

Theory of operation
-------------------
The shell drives a stream from worker threads with blocking calls
(``start_utterance``, ``feed -> partials``, ``end_utterance -> final``), one call
at a time. That fits websockets' *synchronous* client: its connection reads
frames in its own background thread and queues them, so

- ``feed`` sends the audio as one binary frame and then drains whatever results
  are already queued (``recv(timeout=0)``): it never waits on the network;
- ``end_utterance`` is the one call that waits, bounded by ``final_timeout_s``.

No thread or event loop of ours is needed beyond that reader.

**One connection per utterance.** ``start_utterance`` opens the socket,
``end_utterance`` sends ``CloseStream``; Deepgram then flushes the audio it holds,
sends the last ``is_final`` results, a ``Metadata`` message, and closes. That
close is a guaranteed end of the final, which ``Finalize`` on a long-lived
socket is not (Deepgram's docs: its ``from_finalize`` answer "is not guaranteed"
when little audio is buffered). It also means no ``KeepAlive`` timer while the
agent talks (Deepgram closes a silent socket after 10 s, NET-0001), no results of
one turn leaking into the next, and billing only for the caller's turns. The
cost is one handshake per caller turn; the shell buffers the turn's audio
meanwhile and Deepgram catches up faster than real time, so it delays the first
partial, not the final.

**The gateway owns end of turn.** ``endpointing=false`` and no
``utterance_end_ms``/``vad_events``: Deepgram still marks segments ``is_final``
as it settles them, and ``speech_final``/``UtteranceEnd`` would close nothing
here anyway. The utterance's text is its settled (``is_final``) segments in order
plus the latest interim one.

Audio goes out as 8 kHz mu-law: re-encoding the shell's decoded Twilio frames is
bit-exact and half the bytes of linear16. Confidence is the mean word confidence
of the settled segments. Word times are relative to the utterance's first sample,
which is the socket's first sample.

Failures raise ``CloudError`` (a ``ProviderError``) with a kind; the shell logs a
failed step and the core's final-transcript deadline turns the missing words into
a logged decision (``turn.stt_timeout_partial``). The stream reconnects at the
next ``start_utterance``.
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Any
from urllib.parse import urlencode

import numpy as np
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from turngate.audio import mulaw
from turngate.core.events import ModelFailureKind, WordTime
from turngate.speech.cloud import CloudError, kind_for_close, kind_for_status, redact
from turngate.speech.stt import SttResult

__all__ = ["DeepgramStt", "DeepgramStream", "listen_url"]

_PROVIDER = "deepgram-stt"
# websockets 17 warns when connect() is not a context manager unless told legacy=True;
# older releases have no such flag (and no warning).
_DIRECT = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


def listen_url(base_url: str, params: dict[str, str]) -> str:
    """``https://api.deepgram.com`` (or ``wss://...``, or a local fake's ``http://``)
    -> the ``/v1/listen`` WebSocket URL with ``params``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    if not base.endswith("/v1/listen"):
        base += "/v1/listen"
    return f"{base}?{urlencode(params)}"


class DeepgramStt:
    """``SttEngine`` for Deepgram live streaming. ``new_stream`` does no I/O (the
    shell calls it on the event loop); a stream connects at its first utterance."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.deepgram.com",
        model: str = "nova-3",
        language: str = "en-US",
        keyterms: tuple[str, ...] = (),
        connect_timeout_s: float = 5.0,
        final_timeout_s: float = 3.0,
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self._key = api_key
        params = {
            "model": model, "language": language,
            "encoding": "mulaw", "sample_rate": "8000", "channels": "1",
            "interim_results": "true", "endpointing": "false",
            # Punctuation helps the end-of-turn and sentence rules; no smart_format, so
            # numbers stay words as with pocketsphinx (the guard reads both forms anyway).
            "punctuate": "true", "smart_format": "false",
        }
        params.update(extra_params or {})
        self.url = listen_url(base_url, params)
        # keyterm (nova-3) may repeat: the query carries one per phrase.
        if keyterms:
            self.url += "&" + urlencode([("keyterm", k) for k in keyterms])
        self.connect_timeout_s = connect_timeout_s
        self.final_timeout_s = final_timeout_s

    def new_stream(self) -> DeepgramStream:
        return DeepgramStream(self)

    def _connect(self) -> ClientConnection:
        try:
            return connect(self.url, additional_headers={"Authorization": f"Token {self._key}"},
                           open_timeout=self.connect_timeout_s, close_timeout=1.0,
                           compression=None, max_size=2**22, **_DIRECT)
        except InvalidStatus as exc:
            status = exc.response.status_code
            detail = (exc.response.headers.get("dg-error", "")
                      or (exc.response.body or b"")[:200].decode("utf-8", "replace"))
            raise self._error(kind_for_status(status), f"handshake refused: HTTP {status} {detail}".strip(),
                              status=status) from None
        except TimeoutError:
            raise self._error("timeout", f"no handshake within {self.connect_timeout_s} s") from None
        except InvalidHandshake as exc:
            raise self._error("error", f"bad handshake: {exc}") from None
        except OSError as exc:
            raise self._error("disconnect", f"cannot connect: {exc}") from None

    def _error(self, kind: ModelFailureKind, message: str, *, status: int | None = None) -> CloudError:
        return CloudError(_PROVIDER, kind, redact(message, self._key), status=status)

    def close(self) -> None:
        pass  # streams own their sockets


class DeepgramStream:
    """One call's recogniser: a socket per utterance. One thread at a time."""

    def __init__(self, engine: DeepgramStt) -> None:
        self._engine = engine
        self._ws: ClientConnection | None = None
        self._closed = False
        self._samples = 0
        self._settled: list[dict[str, Any]] = []   # is_final alternatives, in order
        self._interim: dict[str, Any] | None = None
        self._last_partial = ""
        self.request_id = ""

    # -- the contract -------------------------------------------------------------------

    def start_utterance(self) -> None:
        self._require_open()
        self._drop()  # an unfinished utterance is discarded with its socket
        self._samples = 0
        self._settled, self._interim, self._last_partial = [], None, ""
        self._ws = self._engine._connect()

    def feed(self, pcm8k: np.ndarray) -> list[SttResult]:
        self._require_open()
        if self._ws is None:
            self.start_utterance()
        ws = self._ws
        assert ws is not None
        pcm = np.asarray(pcm8k, dtype=np.int16)
        if pcm.size:
            try:
                ws.send(mulaw.encode(pcm))
            except ConnectionClosed as exc:
                raise self._closed_error(exc) from None
            self._samples += pcm.size
        out: list[SttResult] = []
        while True:
            try:
                raw = ws.recv(timeout=0)
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                raise self._closed_error(exc) from None
            if self._handle(raw):
                raise self._fail("disconnect", "stream ended before the utterance did")
            partial = self._partial()
            if partial is not None:
                out.append(partial)
        return out

    def end_utterance(self) -> SttResult:
        self._require_open()
        ws = self._ws
        if ws is None:
            return SttResult(text="", is_final=True)
        if self._samples == 0:
            self._drop()
            return SttResult(text="", is_final=True)
        try:
            ws.send(json.dumps({"type": "CloseStream"}))
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        timeout = self._engine.final_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            try:
                raw = ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise self._fail("timeout", f"no final result within {timeout} s of CloseStream") from None
            except ConnectionClosedOK:
                break  # Deepgram's normal close after the flush
            except ConnectionClosed as exc:
                raise self._closed_error(exc) from None
            if self._handle(raw):
                break
        self._drop()
        return self._final()

    def close(self) -> None:
        self._drop()
        self._closed = True

    # -- messages -----------------------------------------------------------------------

    def _handle(self, raw: str | bytes) -> bool:
        """Apply one server message; True when it ends the stream (``Metadata``)."""
        try:
            msg = json.loads(raw)
        except ValueError:
            raise self._fail("error", "a message that is not JSON") from None
        kind = msg.get("type")
        if kind == "Results":
            alts = (msg.get("channel") or {}).get("alternatives") or [{}]
            alt = alts[0]
            self.request_id = (msg.get("metadata") or {}).get("request_id", self.request_id)
            if msg.get("is_final"):
                if alt.get("transcript", "").strip():
                    self._settled.append(alt)
                self._interim = None
            else:
                self._interim = alt
            return False
        if kind == "Metadata":
            self.request_id = msg.get("request_id", self.request_id)
            return True
        if kind == "Error":
            detail = msg.get("description") or msg.get("message") or msg.get("err_msg") or "error"
            raise self._fail("error", str(detail)[:200])
        return False  # SpeechStarted, UtteranceEnd: the gateway has its own VAD and end of turn

    def _partial(self) -> SttResult | None:
        alts = self._settled + ([self._interim] if self._interim else [])
        text = _join(alts)
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        conf = (self._interim or alts[-1]).get("confidence")
        return SttResult(text=text, is_final=False, confidence=_clip(conf), words=_words(alts),
                         audio_ms=self._samples // 8)

    def _final(self) -> SttResult:
        # A last interim segment that the flush did not settle still carries words.
        alts = self._settled + ([self._interim] if self._interim and self._interim.get("transcript") else [])
        # The mean word confidence; None when Deepgram gave none (no words, no measure).
        words = [w for a in alts for w in a.get("words") or ()]
        scored = [float(w["confidence"]) for w in words if w.get("confidence") is not None]
        if not scored:
            scored = [float(a["confidence"]) for a in alts if a.get("confidence") is not None]
        confidence = sum(scored) / len(scored) if scored else None
        return SttResult(text=_join(alts), is_final=True, confidence=_clip(confidence), words=_words(alts),
                         audio_ms=self._samples // 8)

    # -- the socket ---------------------------------------------------------------------

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    def _closed_error(self, exc: ConnectionClosed) -> CloudError:
        frame = exc.rcvd
        code, reason = (frame.code, frame.reason) if frame is not None else (1006, "no close frame")
        return self._fail(kind_for_close(code, reason), f"connection closed mid-utterance ({code} {reason})".strip(),
                          status=code)

    def _fail(self, kind: ModelFailureKind, message: str, *, status: int | None = None) -> CloudError:
        self._drop()
        return self._engine._error(kind, message, status=status)

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("STT stream is closed")


def _join(alts: list[dict[str, Any]]) -> str:
    return " ".join(t for t in (a.get("transcript", "").strip() for a in alts) if t)


def _words(alts: list[dict[str, Any]]) -> tuple[WordTime, ...]:
    return tuple(
        WordTime(word=w.get("punctuated_word") or w.get("word", ""),
                 start_ms=round(float(w.get("start", 0.0)) * 1000), end_ms=round(float(w.get("end", 0.0)) * 1000))
        for a in alts for w in a.get("words") or ()
    )


def _clip(x: float | None) -> float | None:
    return None if x is None else min(1.0, max(0.0, float(x)))
