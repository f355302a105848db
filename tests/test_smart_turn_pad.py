"""A score asked ahead of the candidate end hears the turn as it will be: the audio
followed by the line's own silence (``pad_with_silence``), not by the speech's tail."""

from __future__ import annotations

import numpy as np

from turngate.vad.smart_turn import pad_with_silence


def test_the_pad_repeats_the_quietest_frame_of_the_last_200_ms():
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(8000) * 8000).astype(np.int16)
    tail = (rng.standard_normal(800) * 2000).astype(np.int16)      # the speech's decaying tail
    hiss = (rng.standard_normal(160) * 30).astype(np.int16)       # the line's silence
    x = np.concatenate([speech, hiss, tail])
    out = pad_with_silence(x, 80)
    assert len(out) == len(x) + 80 * 8 and np.array_equal(out[:len(x)], x)
    assert np.array_equal(out[len(x):len(x) + 160], hiss)
    assert np.abs(out[len(x):]).max() == np.abs(hiss).max()


def test_audio_shorter_than_a_frame_is_padded_with_zeros():
    out = pad_with_silence(np.ones(100, np.int16), 40)
    assert len(out) == 100 + 320 and not out[100:].any()
