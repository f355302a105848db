"""The caller's side of the call as a pure schedule: what the caller sends in each 20 ms frame.

``CallerScript.next_frame(now_ms, speaker)`` is asked once per frame, for the
frame that covers audio time ``[now_ms, now_ms + 20)``. It walks the scenario's
steps and answers with the caller's own voice for that frame (or nothing: the
line is silent), any DTMF key pressed, whether a clip started, and whether the
caller hangs up. Steps that take no time (a satisfied ``wait_for``) fall through
to the next step in the same frame, so a barge-in lands on the exact frame its
condition became true.

The script reads the bot's side only through the ``Speaker`` (what has actually
*played*), which is what a human caller reacts to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import FRAME_SAMPLES
from .playout import Speaker
from .scenario import Dtmf, Hangup, Say, Silence, Step, WaitFor, Wav

BOT_QUIET_MIN_MS = 300  # bot_done never fires on less quiet than this, whatever gap_ms says
TAIL_MS = 1500  # after the last step (if it is not a hangup), stay on the line this long


@dataclass(frozen=True, slots=True, kw_only=True)
class Clip:
    """A rendered caller utterance: 8 kHz int16 and where its speech starts."""

    pcm: np.ndarray
    onset_ms: int
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipStarted:
    step: int
    label: str
    start_ms: int
    onset_ms: int  # audio time of the speech onset inside the clip
    end_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    voice: np.ndarray | None = None  # 160 samples of the caller's own voice, or None (silent)
    dtmf: str | None = None
    started: ClipStarted | None = None
    hangup: bool = False


@dataclass(slots=True)
class CallerScript:
    steps: tuple[Step, ...]
    clips: dict[int, Clip]  # by step index, for Say and Wav steps
    problems: list[str] = field(default_factory=list)
    index: int = 0
    _entered: bool = False
    _entered_ms: float = 0.0
    _pos: int = 0
    _until_ms: float = 0.0
    _utt_at_entry: int = 0
    _playing_at_entry: bool = False
    _played_at_entry: int = 0
    _digits_sent: int = 0
    _next_digit_ms: float = 0.0
    done: bool = False

    def next_frame(self, now_ms: float, speaker: Speaker) -> Frame:
        if self.done:
            return Frame(hangup=True)
        while self.index < len(self.steps):
            step = self.steps[self.index]
            if not self._entered:
                self._enter(step, now_ms, speaker)
            frame = self._run(step, now_ms, speaker)
            if frame is not None:
                return frame
            self._advance()
        # Past the last step: stay on the line a little (so the gateway's answer is
        # logged), then hang up.
        if not self._entered:
            self._entered, self._entered_ms = True, now_ms
        if now_ms - self._entered_ms >= TAIL_MS:
            self.done = True
            return Frame(hangup=True)
        return Frame()

    # -- steps --

    def _advance(self) -> None:
        self.index += 1
        self._entered = False

    def _enter(self, step: Step, now_ms: float, speaker: Speaker) -> None:
        self._entered, self._entered_ms, self._pos = True, now_ms, 0
        match step:
            case Silence(ms=ms):
                self._until_ms = now_ms + ms
            case WaitFor():
                self._utt_at_entry = speaker.utterance_index
                self._playing_at_entry = speaker.playing
                self._played_at_entry = speaker.played_bytes
            case Dtmf():
                self._digits_sent, self._next_digit_ms = 0, now_ms
            case _:
                pass

    def _run(self, step: Step, now_ms: float, speaker: Speaker) -> Frame | None:
        """The frame this step sends now, or None when the step is over."""
        match step:
            case Say() | Wav():
                clip = self.clips[self.index]
                if self._pos >= len(clip.pcm):
                    return None
                started = None
                if self._pos == 0:
                    n = len(clip.pcm)
                    started = ClipStarted(step=self.index, label=clip.label, start_ms=round(now_ms),
                                          onset_ms=round(now_ms) + clip.onset_ms,
                                          end_ms=round(now_ms + n * 1000 / 8000))
                chunk = clip.pcm[self._pos : self._pos + FRAME_SAMPLES]
                self._pos += FRAME_SAMPLES
                if len(chunk) < FRAME_SAMPLES:
                    chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), np.int16)])
                return Frame(voice=chunk, started=started)
            case Silence():
                return Frame() if now_ms < self._until_ms else None
            case WaitFor(until=until, offset_ms=offset, gap_ms=gap, timeout_ms=timeout):
                if until == "bot_speaking":
                    # offset_ms into the bot's current utterance *and* since this step
                    # began: after a backchannel resumed the same utterance, the next
                    # offset counts from here, not from the utterance's start.
                    since_entry_ms = (speaker.played_bytes - self._played_at_entry) / 8
                    fired = speaker.playing and min(speaker.utterance_played_ms, since_entry_ms) >= offset
                else:
                    # Any bot audio since this step began: a step that starts in a barge-in's
                    # short silence sees the same utterance resume, not a new one.
                    seen = self._playing_at_entry or speaker.played_bytes > self._played_at_entry
                    quiet = speaker.quiet_ms(now_ms)
                    fired = seen and quiet is not None and quiet >= max(gap, BOT_QUIET_MIN_MS)
                if fired:
                    return None
                if now_ms - self._entered_ms >= timeout:
                    if speaker.played_bytes == self._played_at_entry and not self._playing_at_entry:
                        why = "the bot did not speak"
                    elif speaker.playing:
                        why = "the bot was still speaking"
                    else:
                        why = ("the bot spoke, but not for long enough" if until == "bot_speaking"
                               else "the bot had only just stopped")
                    self.problems.append(
                        f"steps[{self.index}] wait_for {until} timed out after {timeout} ms "
                        f"at {now_ms / 1000:.2f} s: {why}")
                    return None
                return Frame()
            case Dtmf(digits=digits, interval_ms=interval):
                if self._digits_sent < len(digits) and now_ms >= self._next_digit_ms:
                    d = digits[self._digits_sent]
                    self._digits_sent += 1
                    self._next_digit_ms = now_ms + interval
                    return Frame(dtmf=d)
                if self._digits_sent >= len(digits) and now_ms >= self._next_digit_ms:
                    return None
                return Frame()
            case Hangup():
                self.done = True
                return Frame(hangup=True)
        raise AssertionError(f"unhandled step {step!r}")

