"""Twilio's side of bidirectional playback, as a pure buffer: the caller's "speaker".

Theory of operation
-------------------
The gateway sends ``media`` (mu-law audio), ``mark`` (a name) and ``clear``.
Twilio queues media and marks in arrival order and plays the audio at 8000
bytes a second. It echoes a mark back only when every byte queued before the
mark has played; a mark with nothing ahead of it is echoed at once. A ``clear``
drops every queued byte and echoes every pending mark at once, in order (what
the Twilio docs say, and what a gateway relies on to learn what was heard).

``Speaker`` holds that queue and nothing else: no clock, no socket. The driver
calls ``play(n)`` once per 20 ms tick with n = 160 and sends the marks it returns.
It also tracks the bot's *utterances* as the caller perceives them: an
utterance starts when audio starts playing after at least ``UTTERANCE_GAP_MS`` of
quiet (a shorter underrun, such as a late TTS sentence, continues it), and its
``played_ms`` counts audio actually played (not sent), which is what
``wait_for: bot_speaking, offset_ms`` reads. ``spans`` records every stretch of
played audio as it happened, for the call's report.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

UTTERANCE_GAP_MS = 400  # quiet shorter than this inside the bot's speech is an underrun, not a new utterance


@dataclass(frozen=True, slots=True, kw_only=True)
class Played:
    audio: bytes  # the bot's bytes that played in this tick (may be shorter than asked)
    marks: tuple[str, ...]  # marks whose preceding audio has now played, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """A stretch of bot audio that actually played, in audio time."""

    start_ms: int
    end_ms: int


@dataclass(slots=True)
class Speaker:
    _queue: deque[bytes | str] = field(default_factory=deque)
    _head_offset: int = 0  # bytes of the queue's first audio item already played
    buffered_bytes: int = 0
    played_bytes: int = 0  # total bot bytes played in the call
    dropped_bytes: int = 0  # total bot bytes dropped by clear
    received_bytes: int = 0
    # utterance tracking, in audio ms (the caller's clock)
    utterance_index: int = 0  # 1-based count of utterances started; 0 before the first
    utterance_played_ms: float = 0.0
    last_audio_end_ms: float | None = None
    spans: list[Span] = field(default_factory=list)
    _span_start: float | None = None

    # -- what the gateway sends --

    def push_audio(self, audio: bytes) -> None:
        if audio:
            self._queue.append(bytes(audio))
            self.buffered_bytes += len(audio)
            self.received_bytes += len(audio)

    def push_mark(self, name: str) -> tuple[str, ...]:
        """Queue a mark; returns it at once if no audio is ahead of it."""
        if not self._queue:
            return (name,)
        self._queue.append(name)
        return ()

    def clear(self) -> tuple[str, ...]:
        """Drop the queued audio; every pending mark is echoed now, in order."""
        marks = tuple(x for x in self._queue if isinstance(x, str))
        self.dropped_bytes += self.buffered_bytes
        self._queue.clear()
        self._head_offset = 0
        self.buffered_bytes = 0
        return marks

    @property
    def pending_marks(self) -> tuple[str, ...]:
        return tuple(x for x in self._queue if isinstance(x, str))

    # -- the playback clock --

    def play(self, n: int, *, now_ms: float) -> Played:
        """Play up to ``n`` bytes during the tick that starts at ``now_ms``."""
        out = bytearray()
        marks: list[str] = []
        while self._queue:
            head = self._queue[0]
            if isinstance(head, str):
                marks.append(head)
                self._queue.popleft()
                continue
            if len(out) == n:
                break
            take = min(n - len(out), len(head) - self._head_offset)
            out += head[self._head_offset : self._head_offset + take]
            self._head_offset += take
            if self._head_offset == len(head):
                self._queue.popleft()
                self._head_offset = 0
        self.buffered_bytes -= len(out)
        self.played_bytes += len(out)
        self._track(len(out), n, now_ms)
        return Played(audio=bytes(out), marks=tuple(marks))

    def _track(self, nbytes: int, asked: int, now_ms: float) -> None:
        dur = nbytes / 8.0  # 8 bytes per ms at 8 kHz mu-law
        if nbytes:
            if self._span_start is None:
                self._span_start = now_ms
                # A short underrun (a late TTS sentence) does not start a new utterance.
                gap = None if self.last_audio_end_ms is None else now_ms - self.last_audio_end_ms
                if gap is None or gap >= UTTERANCE_GAP_MS:
                    self.utterance_index += 1
                    self.utterance_played_ms = 0.0
            self.utterance_played_ms += dur
            self.last_audio_end_ms = now_ms + dur
        if nbytes < asked and self._span_start is not None:
            # The buffer ran dry inside this tick: the span ends where the audio did.
            end = self.last_audio_end_ms if self.last_audio_end_ms is not None else now_ms
            self.spans.append(Span(start_ms=round(self._span_start), end_ms=round(end)))
            self._span_start = None

    @property
    def playing(self) -> bool:
        return self._span_start is not None

    def quiet_ms(self, now_ms: float) -> float | None:
        """How long no bot audio has played; None before the bot's first audio."""
        if self.playing:
            return 0.0
        return None if self.last_audio_end_ms is None else now_ms - self.last_audio_end_ms

    def finish(self) -> None:
        """Close the open span at the end of the call."""
        if self._span_start is not None and self.last_audio_end_ms is not None:
            self.spans.append(Span(start_ms=round(self._span_start), end_ms=round(self.last_audio_end_ms)))
            self._span_start = None
