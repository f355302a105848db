"""A compact per-call track of what the decision log does not hold: audio levels,
VAD speech, when partial transcripts arrived, and what the bot was given to say.

The console draws its timeline from the decision log plus this track; the
track goes into the call's summary when the call ends. It is filled by the shell
(never the core) from facts the shell already has: the ``VoiceActivity`` windows
it feeds the core and the actions the core returns. Sizes: 100 ms buckets, so a
ten-minute call is three lists of 6,000 small integers.

Nothing here holds the caller's words: a partial is recorded as its time and
word count only, since raw STT text has not been through the guard. The bot's
text is what the output guard passed to TTS.
"""

from __future__ import annotations

from typing import Any

from ..audio.level import mulaw_level_db
from ..core.actions import Action, SendAudio, Synthesize
from ..core.events import Event, PartialTranscript, VoiceActivity

__all__ = ["CallTrack", "STEP_MS"]

STEP_MS = 100
_FLOOR_DB = -90


class CallTrack:
    """Levels in dBFS (rounded, floor -90) and VAD probability (percent), per 100 ms."""

    __slots__ = ("t0", "caller", "vad", "bot", "partials", "said")

    def __init__(self, t0: float = 0.0) -> None:
        self.t0 = t0
        self.caller: list[int] = []
        self.vad: list[int] = []
        self.bot: list[int] = []
        self.partials: list[tuple[int, int]] = []      # (at_ms, words)
        self.said: list[tuple[int, int, int, str]] = []  # (at_ms, generation, segment, text)

    def _slot(self, lane: list[int], now: float) -> int:
        i = max(0, int((now - self.t0) * 1000) // STEP_MS)
        if i > len(lane) + 36_000:  # an hour of gap: a clock gone wrong; do not grow without bound
            return -1
        if i >= len(lane):
            lane.extend([_FLOOR_DB if lane is not self.vad else 0] * (i + 1 - len(lane)))
        return i

    def _max(self, lane: list[int], now: float, value: int) -> None:
        i = self._slot(lane, now)
        if i >= 0 and value > lane[i]:
            lane[i] = value

    def event(self, event: Event, now: float) -> None:
        match event:
            case VoiceActivity():
                self._max(self.caller, now, max(_FLOOR_DB, round(event.level_db)))
                self._max(self.vad, now, round(event.probability * 100))
            case PartialTranscript():
                self.partials.append((int((now - self.t0) * 1000), len(event.text.split())))
            case _:
                pass

    def actions(self, actions: list[Action], now: float) -> None:
        for a in actions:
            match a:
                case SendAudio():
                    self._max(self.bot, now, max(_FLOOR_DB, round(mulaw_level_db(a.payload))))
                case Synthesize():
                    self.said.append((int((now - self.t0) * 1000), a.generation, a.segment, a.text))
                case _:
                    pass

    def to_json(self) -> dict[str, Any]:
        return {"step_ms": STEP_MS, "caller_db": self.caller, "vad_pct": self.vad, "bot_sent_db": self.bot,
                "partials": [list(p) for p in self.partials], "said": [list(s) for s in self.said]}
