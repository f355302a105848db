"""The echo check (audio/echo_check.py): our own echo is explained away, a caller is not,
and the core judges a possible barge-in on what our echo cannot explain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from turngate.audio import mulaw
from turngate.audio.echo_check import EchoCheck
from turngate.core.actions import ClearPlayback
from turngate.core.events import VoiceActivity
from turngate.testing.harness import EchoSpec

from test_core_bargein import long_answer, new
from test_core_echo import play_over
from test_core_transitions import kinds

RATE = 8000


def voice(seconds: float, level_db: float, seed: int) -> np.ndarray:
    """Speech-like sound: coloured noise under a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = lfilter([1.0], [1.0, -1.6, 0.8], rng.standard_normal(n))
    x *= np.abs(np.sin(np.arange(n) / RATE * 2 * np.pi * 3)) + 0.1
    return x / np.sqrt(np.mean(x * x)) * 32768 * 10 ** (level_db / 20)


def line(ours: np.ndarray, *, erl_db: float, delay_ms: int, dispersion_ms: int = 0) -> np.ndarray:
    """Our audio as a poor hybrid returns it: delayed, attenuated, smeared over a few taps
    (or over ``dispersion_ms`` of the harness's band-limited hybrid response)."""
    d = delay_ms * 8
    echo = np.zeros_like(ours)
    echo[d:] = ours[:-d]
    if dispersion_ms:
        return np.convolve(echo, EchoSpec(attenuation_db=erl_db, dispersion_ms=dispersion_ms).response())[:len(ours)]
    taps = np.array([1.0, 0.5, -0.3, 0.1])
    return np.convolve(echo, taps / np.linalg.norm(taps) * 10 ** (-erl_db / 20))[:len(ours)]


def checked(near: np.ndarray, far: np.ndarray) -> list[tuple[float, float | None]]:
    """(level, residual) of every 32 ms window, as the shell and harness drive the check."""
    check = EchoCheck()
    enc = lambda x: mulaw.encode(np.clip(x, -32768, 32767).astype(np.int16))  # noqa: E731
    n_mu, f_mu = enc(near), enc(far)
    out = []
    for i in range(0, len(near) - 159, 160):
        check.frame(n_mu[i:i + 160], f_mu[i:i + 160])
        while (check.windows + 1) * 256 <= check.samples:
            end = (check.windows + 1) * 256
            w = near[end - 256:end]
            out.append((10 * np.log10(np.mean(w * w) / 32768 ** 2 + 1e-12), check.window(check=True)))
    return out


@pytest.mark.parametrize("dispersion_ms", [0, 8])
def test_our_own_echo_leaves_little_and_a_callers_voice_keeps_its_level(dispersion_ms):
    ours = voice(3.0, -20, seed=1)
    caller = voice(3.0, -30, seed=2)
    caller[:2 * RATE] = 0                      # the caller starts 2 s in, over our echo
    echo = line(ours, erl_db=12, delay_ms=150, dispersion_ms=dispersion_ms)
    windows = checked(echo + caller, ours)

    def level(x: np.ndarray, k: int) -> float:
        w = x[k * 256:(k + 1) * 256]
        return float(10 * np.log10(np.mean(w * w) / 32768 ** 2 + 1e-12))

    removed = [level(echo, k) - r for k, (_, r) in enumerate(windows[:60]) if k >= 20 and r is not None]
    kept = [r - level(caller, k) for k, (_, r) in enumerate(windows) if 65 <= k < 90 and r is not None]
    assert len(removed) == 40 and np.median(removed) > 12          # our echo: explained away
    assert len(kept) == 25 and abs(np.median(kept)) < 1.5           # the caller: their own level


def test_nothing_is_checked_when_nothing_of_ours_played_or_nobody_asks():
    caller = voice(2.0, -26, seed=3)
    assert all(r is None for _, r in checked(caller, np.zeros_like(caller)))
    check = EchoCheck()
    check.frame(b"\x10" * 160, b"\x10" * 160)
    check.frame(b"\x10" * 160, b"\x10" * 160)
    assert check.window(check=False) is None


def test_the_echo_floor_is_judged_on_what_our_echo_cannot_explain():
    # A line returning our -20 dBFS audio 12 dB down: a loud window over our playback (-28
    # dBFS, above the assumed floor of -35) that the shell found to be our own echo
    # (residual -60) is not a barge-in; the same window with a residual of -29 (a caller) is.
    t = new()
    long_answer(t)
    play_over(t, 800, VoiceActivity(probability=0.3, level_db=-32))
    echo = VoiceActivity(probability=0.95, level_db=-28, residual_db=-60)
    assert not kinds(t.windows(echo, 4), ClearPlayback)
    caller = VoiceActivity(probability=0.95, level_db=-28, residual_db=-29)
    assert kinds(t.windows(caller, 2), ClearPlayback)
    assert t.decisions("turn")[-1].evidence["residual_db"] == -29.0


def test_a_window_the_vad_dropped_is_skipped_by_its_level_and_an_unknown_one_is_not_judged():
    ours = voice(2.0, -20, seed=4)
    near = line(ours, erl_db=12, delay_ms=150)
    near[int(1.5 * RATE):] += voice(0.5, -26, seed=5)      # the caller, from 1.5 s
    enc = lambda x: mulaw.encode(np.clip(x, -32768, 32767).astype(np.int16))  # noqa: E731
    check = EchoCheck()
    n_mu, f_mu = enc(near), enc(ours)
    for i in range(0, len(near), 160):
        check.frame(n_mu[i:i + 160], f_mu[i:i + 160])
    decoded = mulaw.decode(n_mu).astype(np.float64)
    level = lambda k: float(10 * np.log10(np.mean(decoded[k * 256:(k + 1) * 256] ** 2) / 32768 ** 2))  # noqa: E731
    check.windows = 40                                     # the VAD has read 40 windows ...
    k = 47                                                 # ... then dropped 6: it scores window 47 next
    assert check.window(check=True, level_db=level(k)) is not None and check.windows == k + 1
    assert check.window(check=True, level_db=-99.0) is None   # no window of that level: no judgment
