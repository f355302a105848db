"""How much of our own playback comes back in the caller's channel, learned per call.

A caller's sound only counts as a barge-in if it is louder than the echo our own
audio could cause. The echo return loss (ERL) differs by line: a SIP trunk with an
echo canceller returns nothing, a hybrid with no canceller 12-20 dB down, a
speakerphone worse. Assuming one figure for every line makes a clean line demand
that callers shout over an echo that is not there, and a bad line stutter. When the
call trusts a learned figure over the assumed one is ``Call._erl_db``'s decision; which
windows are evidence (not the one that paused us) is ``Call._learn_echo``'s.

So, while we play, every VAD window's caller-channel level is compared with the
loudest recent audio of ours that could be echoing (``Playback.echo_reference_db``).
The largest difference over the last few seconds is the worst echo we have seen:
``ERL = -max(level - reference)``. Taking the maximum (not a mean) errs towards a
higher floor, so a caller's quiet words or noise while we play can only make
barge-in harder, never make our echo count as speech.

The newest ``lag_buckets`` buckets are left out of the estimate: a caller who
starts quietly must not raise their own bar during their onset. A caller's sound
that turned out to be an interruption is forgotten (``forget_since``), so it does
not raise the bar for the rest of the call. Anything else that paused us is kept:
a "backchannel" may have been our own echo misheard as words (measured: forgetting
those made a 250 ms echo pause us every 700 ms), and echo or noise is exactly the
evidence wanted.
When too few windows have been seen recently (we just started speaking), the last
settled estimate of this call is used, and before any, the caller of
``erl_db`` falls back to its assumed figure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Our audio must be at least this loud for a window to say anything about its echo.
MIN_REFERENCE_DB = -40.0


@dataclass(slots=True)
class EchoEstimate:
    bucket_s: float = 0.128     # four 32 ms VAD windows
    span_s: float = 4.0         # how far back the estimate looks
    lag_buckets: int = 2        # newest buckets left out (see above)
    # Windows needed before the estimate is trusted (~0.5 s): more than the longest echo
    # delay we allow for (playback.ECHO_BACK_MS), so the first echo has had time to arrive.
    min_windows: int = 16
    _buckets: deque[list] = field(default_factory=deque)  # [index, max gain, windows]
    _settled: float | None = None

    def observe(self, level_db: float, reference_db: float, now: float) -> None:
        """One VAD window of the caller's channel while ``reference_db`` of ours may echo."""
        if reference_db < MIN_REFERENCE_DB:
            return
        gain = level_db - reference_db
        idx = int(now // self.bucket_s)
        b = self._buckets
        if b and b[-1][0] == idx:
            last = b[-1]
            if gain > last[1]:
                last[1] = gain
            last[2] += 1
            return
        b.append([idx, gain, 1])
        oldest = idx - int(self.span_s / self.bucket_s)
        while b[0][0] < oldest:
            b.popleft()

    def erl_db(self, now: float) -> float | None:
        """The echo return loss to assume now, or None if this call has not shown it yet."""
        idx = int(now // self.bucket_s)
        newest, oldest = idx - self.lag_buckets, idx - int(self.span_s / self.bucket_s)
        worst, n = None, 0
        for i, gain, count in self._buckets:
            if oldest <= i <= newest:
                n += count
                worst = gain if worst is None or gain > worst else worst
        if worst is not None and n >= self.min_windows:
            self._settled = -worst
        return self._settled

    def forget_since(self, t: float) -> None:
        """Drop what was observed from ``t`` on: it was the caller, not our echo."""
        first = int(t // self.bucket_s)
        while self._buckets and self._buckets[-1][0] >= first:
            self._buckets.pop()
