"""One simulated call as a pure engine: Twilio's messages out, the gateway's messages in.

``SimCall`` speaks Twilio Media Streams without touching a socket or a clock:

- ``opening()``: the ``connected`` and ``start`` messages;
- ``tick(now_ms)``: the messages for the 20 ms frame that covers audio time
  ``[now_ms, now_ms + 20)``: mark echoes whose audio has now played, the caller's
  ``media`` frame (voice + background noise + echo of the bot), any ``dtmf``;
- ``on_message(text, now_ms)``: a message from the gateway (``media``, ``mark``,
  ``clear``) at audio time ``now_ms``; returns the mark echoes due at once (a mark
  with nothing ahead of it, or every pending mark after a ``clear``);
- ``closing()``: the ``stop`` message.

The driver (``caller.py``) decides *when* those are called, on the real clock;
tests call them on a virtual one. Audio time is the caller's outbound clock: 0 is
the start of the first media frame.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import FRAME_MS, FRAME_SAMPLES, RATE, SILENCE_BYTE, EchoPath, NoiseBed, to_int16, ulaw_decode, ulaw_encode
from .playout import Speaker
from .script import CallerScript, ClipStarted

_SILENT_FRAME = bytes([SILENCE_BYTE]) * FRAME_SAMPLES
BARGE_IN_LOOKBACK_MS = 200  # a clear this soon before the onset still counts as this barge-in's


@dataclass(slots=True, kw_only=True)
class CallerUtterance:
    step: int
    label: str
    start_ms: int
    onset_ms: int
    end_ms: int
    over_bot: bool | None = None  # decided at the onset frame: was the bot's audio playing?


@dataclass(slots=True, kw_only=True)
class Clear:
    at_ms: int
    dropped_bytes: int
    marks: tuple[str, ...]


@dataclass(slots=True)
class SimCall:
    script: CallerScript
    call_sid: str
    account_sid: str
    stream_sid: str
    custom_parameters: dict[str, str]
    noise: NoiseBed | None = None
    echo: EchoPath | None = None
    max_duration_ms: int = 120_000
    speaker: Speaker = field(default_factory=Speaker)
    utterances: list[CallerUtterance] = field(default_factory=list)
    clears: list[Clear] = field(default_factory=list)
    marks_received: int = 0
    marks_echoed: int = 0
    problems: list[str] = field(default_factory=list)
    hung_up: bool = False
    _seq: int = 0
    _chunk: int = 0
    _spk: np.ndarray = field(default=None)  # type: ignore[assignment]
    _mic: np.ndarray = field(default=None)  # type: ignore[assignment]
    _end_ms: int = 0

    def __post_init__(self) -> None:
        # What the caller's speaker played and what the line carried, sample by
        # sample: the echo path reads the first; both can be saved for listening.
        n = (self.max_duration_ms // 1000 + 10) * RATE
        self._spk = np.zeros(n, dtype=np.int16)
        self._mic = np.zeros(n, dtype=np.int16)

    @property
    def audio_ms(self) -> int:
        """Audio time at the end of the last media frame sent."""
        return self._end_ms

    def recordings(self) -> tuple[np.ndarray, np.ndarray]:
        """(bot audio as played, caller line as sent), 8 kHz int16, from audio time 0."""
        n = self._end_ms * RATE // 1000
        return self._spk[:n].copy(), self._mic[:n].copy()

    # -- Twilio -> gateway ---------------------------------------------------

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    def opening(self) -> list[dict[str, Any]]:
        start = {
            "event": "start",
            "sequenceNumber": self._next_seq(),
            "start": {
                "streamSid": self.stream_sid,
                "accountSid": self.account_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": dict(self.custom_parameters),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": self.stream_sid,
        }
        return [{"event": "connected", "protocol": "Call", "version": "1.0.0"}, start]

    def _mark_echo(self, name: str) -> dict[str, Any]:
        self.marks_echoed += 1
        return {"event": "mark", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                "mark": {"name": name}}

    def tick(self, now_ms: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.hung_up:
            return out
        if now_ms >= self.max_duration_ms:
            self.script.problems.append(f"max_duration_s reached at {now_ms / 1000:.1f} s: hung up")
            self.hung_up = True
            return out
        # 1. The caller's script decides this frame from what has played *before* it
        #    (a person reacts to what they heard, not to what is about to play).
        frame = self.script.next_frame(now_ms, self.speaker)
        # 2. The speaker plays this frame's share of the bot's audio.
        played = self.speaker.play(FRAME_SAMPLES, now_ms=now_ms)
        if played.audio:
            i = now_ms * RATE // 1000
            pcm = ulaw_decode(played.audio)
            self._spk[i : i + len(pcm)] = pcm[: max(0, len(self._spk) - i)]
        out.extend(self._mark_echo(m) for m in played.marks)
        if frame.started is not None:
            self._clip_started(frame.started)
        self._classify_onsets(now_ms)
        if frame.hangup:
            self.hung_up = True
            return out
        # 3. The line: voice + background noise + echo of the bot, in mu-law.
        self._chunk += 1
        self._end_ms = now_ms + FRAME_MS
        out.append({
            "event": "media",
            "sequenceNumber": self._next_seq(),
            "media": {"track": "inbound", "chunk": str(self._chunk), "timestamp": str(now_ms),
                      "payload": base64.b64encode(self._line(now_ms, frame.voice)).decode("ascii")},
            "streamSid": self.stream_sid,
        })
        if frame.dtmf is not None:
            out.append({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                        "dtmf": {"track": "inbound_track", "digit": frame.dtmf}})
        return out

    def _line(self, now_ms: int, voice: np.ndarray | None) -> bytes:
        if voice is None and self.noise is None and self.echo is None:
            return _SILENT_FRAME  # the mic track is already zeros here
        x = np.zeros(FRAME_SAMPLES, dtype=np.float32) if voice is None else voice.astype(np.float32)
        if self.noise is not None:
            x += self.noise.take(FRAME_SAMPLES)
        if self.echo is not None:
            j = now_ms * RATE // 1000 - self.echo.delay_samples
            lo = max(j, 0)
            if j + FRAME_SAMPLES > 0:
                seg = self._spk[lo : j + FRAME_SAMPLES].astype(np.float32) * self.echo.gain
                x[lo - j : lo - j + len(seg)] += seg
        pcm = to_int16(x)
        i = now_ms * RATE // 1000
        self._mic[i : i + FRAME_SAMPLES] = pcm[: max(0, len(self._mic) - i)]
        return ulaw_encode(pcm)

    def closing(self) -> list[dict[str, Any]]:
        self.speaker.finish()
        return [{"event": "stop", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                 "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}}]

    # -- barge-in bookkeeping -------------------------------------------------

    def _clip_started(self, s: ClipStarted) -> None:
        self.utterances.append(CallerUtterance(step=s.step, label=s.label, start_ms=s.start_ms,
                                               onset_ms=s.onset_ms, end_ms=s.end_ms))

    def _classify_onsets(self, now_ms: int) -> None:
        # Decided on the frame that carries the onset: the bot's audio was playing
        # then, or the gateway had just cleared it (a fast reaction can land before
        # the onset frame is even sent, since the clip's lead-in carries some sound).
        for u in self.utterances:
            if u.over_bot is None and now_ms + FRAME_MS > u.onset_ms:
                recent_clear = any(u.start_ms - BARGE_IN_LOOKBACK_MS <= c.at_ms <= u.onset_ms for c in self.clears)
                u.over_bot = self.speaker.playing or recent_clear

    @property
    def barge_in_utterances(self) -> list[CallerUtterance]:
        return [u for u in self.utterances if u.over_bot]

    def first_clear_after(self, u: CallerUtterance) -> Clear | None:
        for c in self.clears:
            if c.at_ms >= u.start_ms - BARGE_IN_LOOKBACK_MS:
                return c
        return None

    # -- gateway -> Twilio ----------------------------------------------------

    def on_message(self, text: str | bytes, now_ms: float) -> list[dict[str, Any]]:
        try:
            msg = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            self.problems.append(f"gateway sent a frame that is not JSON at {now_ms:.0f} ms")
            return []
        if not isinstance(msg, dict):
            self.problems.append(f"gateway sent JSON that is not an object at {now_ms:.0f} ms")
            return []
        event = msg.get("event")
        if event in ("media", "mark", "clear") and msg.get("streamSid") != self.stream_sid:
            # Twilio requires the streamSid on every message it is sent.
            self.problems.append(f"gateway {event} with streamSid {msg.get('streamSid')!r} (expected {self.stream_sid})")
        match event:
            case "media":
                try:
                    payload = base64.b64decode(msg["media"]["payload"], validate=True)
                except (KeyError, TypeError, ValueError):
                    self.problems.append(f"gateway media without a valid base64 payload at {now_ms:.0f} ms")
                    return []
                self.speaker.push_audio(payload)
                return []
            case "mark":
                name = (msg.get("mark") or {}).get("name") if isinstance(msg.get("mark"), dict) else None
                if not isinstance(name, str):
                    self.problems.append(f"gateway mark without a name at {now_ms:.0f} ms")
                    return []
                self.marks_received += 1
                return [self._mark_echo(m) for m in self.speaker.push_mark(name)]
            case "clear":
                dropped = self.speaker.buffered_bytes
                marks = self.speaker.clear()
                self.clears.append(Clear(at_ms=round(now_ms), dropped_bytes=dropped, marks=marks))
                return [self._mark_echo(m) for m in marks]
            case _:
                self.problems.append(f"gateway sent unknown event {event!r} at {now_ms:.0f} ms")
                return []
