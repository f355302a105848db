"""The caller's sound: VAD hysteresis, the echo floor, and the noise back-off.

A ``SoundDetector`` turns 32 ms VAD windows into two facts, ``Onset`` and
``SoundEnded``. While we play, a window only counts as speech if it is louder
than the echo our own playback could cause there: our loudest recent audio less
this line's echo return loss (learned while we play, ``core/echo.py``; assumed
``echo_return_loss_db`` until then), plus a margin. Pauses that turned out to be
noise make the next onset over our playback harder for a few seconds, so a kitchen
or a street does not make the agent stutter.

The detector knows nothing of turns or answers; the call tells it, per window,
whether we are playing (and how loud) or paused.
"""

from __future__ import annotations

from dataclasses import dataclass

from .echo import EchoEstimate
from .events import VoiceActivity
from .params import TurnParams
from .playback import Playback


@dataclass(frozen=True, slots=True)
class Onset:
    """The caller's sound started at ``at`` (before ``now``: the VAD needs a few windows)."""

    at: float


@dataclass(frozen=True, slots=True)
class SoundEnded:
    """The caller's sound ended; the silence began at ``silence_start``."""

    silence_start: float


class SoundDetector:
    def __init__(self, params: TurnParams) -> None:
        self.p = params
        self.in_speech = False
        self.speech_run_ms = 0
        self.silence_run_ms = 0
        self.sound_ms = 0          # speech in the current caller sound (a pause's sounds add up)
        self.echo_windows = 0      # windows judged our own echo, over the call
        self.hold = False          # resumed over continuing noise: no new onset until silence
        self.echo = EchoEstimate()
        self._tail_until = float("-inf")  # after our playback ends its echo may still arrive
        self._tail_level = -90.0
        self._false_pauses = 0
        self._last_false_pause = float("-inf")
        self.cancelling = False    # an echo canceller runs on this call's audio
        self._last_resume = float("-inf")
        self._resumes = 0          # pauses that played on, in a row (see canceller_due)

    def window(self, ev: VoiceActivity, now: float, playing: bool, playback: Playback | None,
               paused: bool) -> Onset | SoundEnded | None:
        """One VAD window. ``playing``: our answer is playing (an onset would be a barge-in);
        ``playback``: what of ours is playing, for how loud its echo can be (None when
        nothing plays); ``paused``: we stopped for the caller, so a new sound continues
        the same interjection."""
        p = self.p
        is_speech = ev.probability >= (p.silence_threshold if self.in_speech else p.speech_threshold)
        if is_speech and not self.in_speech:
            # A possible onset: is it louder than our own echo could be?
            ref = playback.echo_reference_db() if playback is not None else None
            if ref is None and now < self._tail_until:
                ref = self._tail_level  # our last words may still echo back
            # Judged on what our echo cannot explain, where the shell could tell: a line that
            # sends us back 12 dB down is then as quiet as a clean one between the caller's words.
            level = ev.level_db if ev.residual_db is None else min(ev.level_db, ev.residual_db)
            if ref is not None and level < self.echo_floor_db(ref, now):
                is_speech = False
                self.echo_windows += 1

        if is_speech:
            self.silence_run_ms = 0
            self.speech_run_ms += ev.window_ms
            if self.in_speech:
                self.sound_ms += ev.window_ms
            elif self.speech_run_ms >= (self.barge_in_start_ms(now) if playing else p.speech_start_ms):
                self.in_speech = True
                # While paused, a new sound continues the same interjection: "Stop, wait."
                # is one, and its length is what tells it from a backchannel.
                self.sound_ms = self.speech_run_ms + (self.sound_ms if paused else 0)
                return Onset(at=now - self.speech_run_ms / 1000)
        else:
            self.silence_run_ms += ev.window_ms
            if not self.in_speech:
                self.speech_run_ms = 0
            elif self.silence_run_ms >= (p.pause_hangover_ms if paused else p.vad_hangover_ms):
                self.in_speech = False
                self.speech_run_ms = 0
                self.hold = False
                return SoundEnded(silence_start=now - self.silence_run_ms / 1000)
        return None

    def learn(self, ev: VoiceActivity, echo_ref_db: float, now: float) -> None:
        """A window heard while we kept playing is evidence of this line's echo. A window
        that paused us is not: we judged it the caller (so a backchannel's onset does not
        cost a clean line its low floor), while our echo misheard as words still counts,
        from the windows around it that did not pause us."""
        if self.p.echo_learn:
            self.echo.observe(ev.level_db, echo_ref_db, now)

    def canceller_due(self, now: float) -> bool:
        """Time to cancel this line's echo rather than out-shout it: the pause that just
        played on is the ``echo_canceller_after``-th in a row, each within
        ``noise_backoff_s`` of the one before: the line's own sound keeps stopping us.
        What the recogniser made of it cannot tell: our echo comes back as "bye", "i",
        "um" (measured on a 12 dB line), as a caller's backchannels do as "uh huh". Three,
        not two: a caller may backchannel twice in a few seconds, rarely three times, and
        the canceller is only cost there. The learned echo return loss cannot say it first:
        the loud echo windows are the ones that pause us, and a window that paused us is
        never learned, so the estimate reads the line cleaner than it is (28 dB learned on
        a 12 dB line). Once per call."""
        need = self.p.echo_canceller_after
        if self.cancelling or not need:
            return False
        self._resumes = self._resumes + 1 if now - self._last_resume <= self.p.noise_backoff_s else 1
        self._last_resume = now
        if self._resumes >= need:
            self.cancelling = True
        return self.cancelling

    def playback_ended(self, now: float, level_db: float) -> None:
        self._tail_until = now + self.p.echo_tail_ms / 1000
        self._tail_level = level_db

    def forget_since(self, t: float) -> None:
        """The sound that paused us had words: the caller's, not evidence of our echo."""
        self.echo.forget_since(t)

    def false_pause(self, now: float) -> None:
        """A pause found no words: noise or our echo stopped us."""
        self._false_pauses = self.recent_false_pauses(now) + 1
        self._last_false_pause = now

    def echo_floor_db(self, reference_db: float, now: float) -> float:
        """The level a caller must beat over our playback: our loudest recent audio, less
        this line's echo return loss, plus a margin."""
        return reference_db - self.erl_db(now) + self.p.barge_in_min_level_over_echo_db

    def erl_db(self, now: float) -> float:
        """The echo return loss to assume: ``echo_return_loss_db`` until this call has
        shown its own (core/echo.py). A line cleaner than assumed uses what it shows.
        A line that looks *worse* uses it only after a pause found no words in the last
        ``noise_backoff_s``: then the line has shown that its own sound (echo, or a noisy
        room) stops us. Without that proof a worse figure is as likely the caller's room
        just before they talk (an AMI turn start had -24 dBFS of non-speech there), and
        raising the floor on it hid real interruptions (bench/bargein.py)."""
        p = self.p
        learned = self.echo.erl_db(now) if p.echo_learn else None
        if learned is None:
            return p.echo_return_loss_db
        if learned < p.echo_return_loss_db and not self.recent_false_pauses(now):
            return p.echo_return_loss_db
        return min(p.echo_return_loss_max_db, max(p.echo_return_loss_min_db, learned))

    def barge_in_start_ms(self, now: float) -> int:
        """Speech needed before pausing our playback. Each pause that turned out to be
        noise doubles it (up to 8x) for the next few seconds: a kitchen or a street
        must not make the agent stutter, while a caller who really talks over it still
        stops it, a little later."""
        return self.p.barge_in_start_ms << min(3, self.recent_false_pauses(now))

    def recent_false_pauses(self, now: float) -> int:
        """Pauses that found no words, counted while each came within ``noise_backoff_s``
        of the one before, and still within it now."""
        return self._false_pauses if now - self._last_false_pause <= self.p.noise_backoff_s else 0
