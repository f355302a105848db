"""How much of a VAD window's sound our own playback explains: an echo check at the moment
it matters, instead of an echo canceller on every frame.

A line with a poor hybrid (12 dB echo return loss, no canceller) sends our answer back
louder than a quiet caller, so a level rule alone either stops for our own voice (the bot
stutters) or makes every caller shout. But an echo is our audio through a short linear
path (a delay, a gain, the hybrid's few milliseconds of dispersion, the codec), and we
know exactly what we played. So for a window that could be a caller's onset, we find the
delay by cross-correlating the caller's channel with what played in the last
``max_delay_ms``, fit a ``taps``-tap filter from that played audio to the caller's channel
by least squares over the ``fit_ms`` before the newest window, and report the level of
what that path cannot explain in the window (``window()``). Our echo alone leaves 12-30 dB
less than its level (the codec's noise and the room's set the limit); a caller's voice is
not explained by our audio and keeps its level: the path is fitted before the window, so a
caller who starts in it is not fitted away. The path is kept while it explains the line
(a phone line's echo path holds still), so most checks are a slice and a product.

It runs only for windows the caller of ``window()`` asks about (the VAD said speech while
our audio could be echoing): 0.1-0.2 ms each, nothing on a clean line or while we are
silent. The per-frame cost is two deque appends of the frames' mu-law bytes.

Samples are counted from the first frame pushed, as the VAD's windows are, so window k
ends at sample ``window * (k + 1)``: the check needs no clock.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import scipy.fft as sfft

from . import mulaw

_SILENCE = b"\xff" * 160  # a 20 ms frame of mu-law silence
SILENT_FAR_DB = -55.0   # played audio quieter than this cannot echo audibly: nothing to check
_FULL_SCALE = 32768.0
# A fit that leaves a quarter of the power (6 dB) or less has found an echo path.
ECHO_EXPLAINED = 4.0
# An overloaded VAD drops at most this many windows of backlog at once (vad/batch.py keeps 6).
RESYNC_WINDOWS = 8


def _db(power: float) -> float:
    return 10.0 * np.log10(max(power, 1e-12) / _FULL_SCALE ** 2)


class EchoCheck:
    """One call's record of what it heard and what it played, frame by frame (``frame``),
    and the echo check of each VAD window (``window``, called once per window in order)."""

    def __init__(self, *, window: int = 256, max_delay_ms: int = 500, fit_ms: int = 160, taps: int = 64,
                 frame: int = 160) -> None:
        self.size = window
        self.max_delay = max_delay_ms * 8
        self.fit = fit_ms * 8
        self.taps = taps
        keep = (self.max_delay + self.fit + taps + window) // frame + 3
        self._near: deque[bytes] = deque(maxlen=keep)
        self._far: deque[bytes] = deque(maxlen=keep)
        self.samples = 0        # caller samples pushed so far
        self.windows = 0        # VAD windows seen so far
        self._far_until = -1    # the sample after which nothing of ours played (to within the delay)
        self._path: tuple[int, np.ndarray] | None = None  # the last fit that explained an echo: (lag, filter)

    def frame(self, near: bytes, far: bytes) -> None:
        """One inbound frame (mu-law) and what of ours the caller's phone played meanwhile
        (mu-law, possibly shorter or empty)."""
        n = len(near)
        if not far:   # the common case: nothing of ours is playing
            far = _SILENCE if n == len(_SILENCE) else b"\xff" * n
        else:
            if len(far) < n:
                far = far + b"\xff" * (n - len(far))
            if far.strip(b"\xff\x7f"):
                self._far_until = self.samples + n + self.max_delay
        self._near.append(near)
        self._far.append(far[:n])
        self.samples += n

    def window(self, *, check: bool, level_db: float | None = None) -> float | None:
        """The next VAD window's level with our echo taken out, in dBFS, if ``check`` (the
        VAD heard speech in it: a possible onset); None when not asked, or when nothing of
        ours played within ``max_delay_ms`` before it (no echo possible).

        ``level_db``, the VAD's level of the window, names the window: an overloaded VAD
        drops whole windows of backlog (``vad/batch.py``), and the count here would then
        point at an older one. A window whose level does not match is looked for among the
        next few; if none matches, the check says nothing (None) rather than judge other
        audio: the core then judges on the level alone, as without a check."""
        self.windows += 1
        if not check or (self.windows - 1) * self.size > self._far_until:
            return None   # (a window the VAD skipped ahead to is later still: no echo there either)
        near, far = b"".join(self._near), b"".join(self._far)   # once per checked window
        if level_db is not None and not self._find(near, level_db):
            return None
        return self._residual_db(near, far)

    def _find(self, held: bytes, level_db: float) -> bool:
        first = self.samples - len(held)
        for skip in range(RESYNC_WINDOWS + 1):
            end = (self.windows + skip) * self.size
            if end > self.samples:
                return False
            if end - self.size < first:
                continue
            w = mulaw.decode(held[end - self.size - first:end - first]).astype(np.float64)
            if abs(_db(float(np.mean(w * w))) - level_db) < 0.1:
                self.windows += skip
                return True
        return False

    def _residual_db(self, held_near: bytes, held_far: bytes) -> float | None:
        end = self.windows * self.size
        start_far = end - self.fit - self.max_delay - self.taps
        first = self.samples - len(held_near)
        if end > self.samples or end - self.fit < first or end - self.size > self._far_until:
            return None   # a window the frames do not cover, or nothing of ours could echo in it
        # Only the samples the fit reads are decoded.
        near = mulaw.decode(held_near[end - self.fit - first:end - first]).astype(np.float64)
        far = mulaw.decode(held_far[max(0, start_far - first):end - first]).astype(np.float64)
        if start_far < first:
            # The call's first half second: before its first frame nothing of ours had played.
            far = np.concatenate([np.zeros(first - start_far), far])
        if _db(float(np.mean(far * far))) < SILENT_FAR_DB:
            return None
        target = near[-self.size:]
        # What our echo cannot explain is never more than the window: a fit thrown off by a
        # caller already talking in its span must not make them louder than they are.
        return _db(min(self._residual_power(near, far), float(np.mean(target * target))))

    def _residual_power(self, near: np.ndarray, far: np.ndarray) -> float:
        n, w = len(near), self.size
        views = np.lib.stride_tricks.sliding_window_view(far, n)        # (lags, n)
        target = near[-w:]
        cached = float("inf")
        if self._path is not None:
            # A phone line's echo path holds still for the call: the last fit that found it
            # usually explains the next window too, for a slice and a product instead of a
            # search; and it still holds where a new fit cannot find it (our audio was quiet
            # over the fit span, or the room's noise covered it).
            lo, h = self._path
            e = target - h @ views[lo:lo + len(h), -w:]
            cached = float(np.mean(e * e))
            if cached * ECHO_EXPLAINED <= float(np.mean(target * target)):
                return cached
        lo, h, explained = self._fit(near, far, views)
        if not explained:
            # A fit that found no echo path is not used: over a span where the caller
            # already talks it is partly a fit of their voice (with 64 taps, a few dB of it).
            return cached if self._path is not None else float(np.mean(target * target))
        self._path = (lo, h)
        e = target - h @ views[lo:lo + len(h), -w:]
        return min(cached, float(np.mean(e * e)))

    def _fit(self, near: np.ndarray, flat: np.ndarray, views: np.ndarray) -> tuple[int, np.ndarray, bool]:
        """The echo path: the lag whose played audio best matches the caller's channel, and
        the least-squares filter over the span before the newest window (a caller who starts
        in it is not fitted away: a fit over it absorbed 1-1.5 dB of a caller's voice)."""
        n, w, taps = len(near), self.size, self.taps
        size = 1 << int(np.ceil(np.log2(len(flat) + n)))
        # far[k : k + n] lines up with near for a delay of (len(far) - n - k) samples.
        corr = sfft.irfft(sfft.rfft(flat, size) * np.conj(sfft.rfft(near, size)), size)[:len(views)]
        c = np.concatenate(([0.0], np.cumsum(flat * flat)))
        energy = (c[n:] - c[:-n])[:len(views)]
        k = int(np.argmax(corr * corr / np.maximum(energy, 1e-9)))
        # The filter spans the found lag and the hybrid's dispersion after it (later lags are
        # earlier k), with a few taps of slack either side for the lag's error.
        lo = max(0, min(k - taps * 3 // 4, len(views) - taps))
        x = np.ascontiguousarray(views[lo:lo + taps, :n - w])            # (taps, fit samples)
        y = near[:n - w]
        gram = x @ x.T
        gram += np.eye(taps) * (1e-5 * float(np.trace(gram)) / taps + 1e-6)
        h = np.linalg.solve(gram, x @ y)
        e = y - h @ x
        return lo, h, float(np.mean(e * e)) * ECHO_EXPLAINED <= float(np.mean(y * y))
