"""mu-law codec: bit-exact with the old audioop module, and level in dBFS."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from turngate.audio import level_db, levels_db, mulaw
from turngate.audio.level import SILENCE_DB

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+: the reference is gone, the tables stay
        audioop = None

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop removed (Python 3.13+)")


@needs_audioop
def test_decode_matches_audioop_for_all_256_codes():
    codes = bytes(range(256))
    assert mulaw.decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)


@needs_audioop
def test_encode_matches_audioop_for_every_int16_value():
    every = np.arange(-32768, 32768, dtype=np.int16)
    assert mulaw.encode(every) == audioop.lin2ulaw(every.tobytes(), 2)


@needs_audioop
def test_encode_matches_audioop_on_random_frames():
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal(16000) * 6000).clip(-32768, 32767).astype(np.int16)
    assert mulaw.encode(pcm) == audioop.lin2ulaw(pcm.tobytes(), 2)


def test_decode_then_encode_is_identity_except_negative_zero():
    codes = bytes(range(256))
    again = mulaw.encode(mulaw.decode(codes))
    # 0x7F (negative zero) decodes to 0, which encodes as 0xFF (positive zero).
    expected = bytes(0xFF if c == 0x7F else c for c in codes)
    assert again == expected


def test_decode_returns_int16_one_sample_per_byte():
    out = mulaw.decode(b"\xff" * 160)
    assert out.dtype == np.int16 and out.shape == (160,)
    assert not out.any()


def test_encode_rejects_non_int16_input():
    with pytest.raises(TypeError):
        mulaw.encode(np.zeros(10, dtype=np.float32))


def test_level_of_full_scale_square_wave_is_zero_dbfs():
    square = np.tile(np.array([32767, -32768], dtype=np.int16), 128)
    assert level_db(square) == pytest.approx(0.0, abs=0.01)


def test_level_of_sine_and_silence():
    t = np.arange(256) / 8000
    sine = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    assert level_db(sine) == pytest.approx(20 * np.log10(10000 / 32768 / np.sqrt(2)), abs=0.1)
    assert level_db(np.zeros(256, dtype=np.int16)) == SILENCE_DB
    assert level_db(np.zeros(0, dtype=np.int16)) == SILENCE_DB


def test_batched_levels_match_single_levels():
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal((5, 256)) * np.array([[10], [100], [1000], [10000], [0]])).astype(np.int16)
    rows = levels_db(pcm.astype(np.float32) / 32768)
    for row, single in zip(rows, pcm):
        assert row == pytest.approx(level_db(single), abs=1e-3)


def test_level_of_mulaw_bytes_matches_the_level_of_their_decoded_samples():
    from turngate.audio.level import mulaw_level_db

    rng = np.random.default_rng(2)
    for scale in (0, 30, 300, 3000, 30000):
        pcm = np.clip(rng.standard_normal(800) * scale, -32768, 32767).astype(np.int16)
        payload = mulaw.encode(pcm)
        assert mulaw_level_db(payload) == pytest.approx(level_db(mulaw.decode(payload)), abs=1e-9)
    assert mulaw_level_db(b"") == SILENCE_DB
    assert mulaw_level_db(bytes([0xFF]) * 160) == SILENCE_DB  # mu-law 0xFF is a zero sample


def test_gain_table_lowers_a_tone_by_its_db_and_zero_db_changes_nothing():
    t = np.arange(8000) / 8000
    tone = mulaw.encode((np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16))
    rms = lambda b: np.sqrt(np.mean(mulaw.decode(b).astype(np.float64) ** 2))  # noqa: E731
    assert tone.translate(mulaw.gain_table(0.0)) == tone
    lowered = 20 * np.log10(rms(tone.translate(mulaw.gain_table(15.0))) / rms(tone))
    assert abs(lowered + 15.0) < 0.3
