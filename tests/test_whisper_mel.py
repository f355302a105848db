"""The end-of-turn model's input features (audio/whisper_mel.py) and the model itself.

Our extractor must give what Pipecat's (and so transformers') Whisper features give:
compared on a real clip when the pipecat-ai wheel is installed (its feature module is
numpy only; it is loaded from its file, since the package's __init__ needs loguru)."""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from turngate.audio.whisper_mel import FRAMES, N_MELS, WINDOW_SAMPLES, log_mel

CLIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "audio" / "cmu_arctic"


def _clip16k() -> np.ndarray:
    wavs = sorted(CLIP.glob("*.wav"))
    if not wavs:
        pytest.skip("the shared data set is not here")
    with wave.open(str(wavs[0])) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
        rate = w.getframerate()
    return soxr.resample(x, rate, 16000) if rate != 16000 else x


def _pipecat_features():
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pipecat-ai is not installed")
    path = Path(spec.submodule_search_locations[0]) / "audio" / "turn" / "smart_turn" / "_whisper_features.py"
    mod_spec = importlib.util.spec_from_file_location("_pipecat_whisper_features", path)
    assert mod_spec is not None and mod_spec.loader is not None
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod.compute_whisper_log_mel_features


def _front_padded(x: np.ndarray) -> np.ndarray:
    """What Pipecat's analyzer feeds its extractor: the last 8 s, zero-padded at the front."""
    x = x[-WINDOW_SAMPLES:]
    return np.pad(x, (WINDOW_SAMPLES - x.size, 0))


def test_features_match_pipecats_on_a_real_clip_short_and_long():
    reference = _pipecat_features()
    x = _clip16k()
    for audio in (x[: 16000], x, np.tile(x, 1 + WINDOW_SAMPLES // x.size)):  # 1 s, whole, over 8 s
        ours = log_mel(audio)
        assert ours.shape == (N_MELS, FRAMES) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference(_front_padded(audio)), atol=1e-5)


def test_only_the_last_eight_seconds_count_and_front_silence_is_padding():
    x = _clip16k()
    assert np.array_equal(log_mel(x), log_mel(np.concatenate([np.zeros(WINDOW_SAMPLES, np.float32), x])))
    assert np.array_equal(log_mel(x), log_mel(_front_padded(x)))


def test_the_bundled_model_scores_a_turn_between_zero_and_one():
    from turngate.vad import smart_turn

    model = smart_turn.load()
    if model is None:
        pytest.skip("pipecat-ai is not installed")
    pcm8k = np.clip(soxr.resample(_clip16k(), 16000, 8000) * 32768, -32768, 32767).astype(np.int16)
    p = model.score(pcm8k)
    assert 0.0 <= p <= 1.0
    assert model.score(pcm8k) == p  # deterministic
