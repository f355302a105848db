"""The acoustic backchannel scorer (turngate.audio.backchannel): its contract on odd input,
its determinism, its tree evaluator, and what it does (and does not yet do) on voices it
never saw. The figures are in docs/benchmarks.md ("Backchannel classifier (issue 13)")."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from turngate.audio import mulaw
from turngate.audio.backchannel import FEATURES, LEAD_MS, NO_EVIDENCE, BackchannelModel, features

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


@pytest.fixture(scope="module")
def model() -> BackchannelModel:
    return BackchannelModel.load()


def _voiced(ms: int, *, f0: float = 140.0, level: float = 3000.0, seed: int = 1) -> np.ndarray:
    """A vowel-like sound: harmonics of ``f0`` under a rise-and-fall envelope, plus a little noise."""
    n = ms * 8
    t = np.arange(n) / 8000
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    env = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
    return level * x * env + np.random.default_rng(seed).normal(0, 20, n)


def _with_lead(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(LEAD_MS * 8), x])


def test_bundled_model_loads_with_this_modules_features_and_a_threshold_per_decision_point(model):
    assert [t for t, _ in model.thresholds] == [100, 150, 200, 250, 300]
    assert all(0.0 < v < 1.0 for _, v in model.thresholds)
    assert model.lead_ms == LEAD_MS
    assert "validation" in model.threshold_rule
    f = features(_with_lead(_voiced(250)))
    assert f is not None and f.shape == (len(FEATURES),)


def test_threshold_is_the_last_decision_point_not_after_now(model):
    th = dict(model.thresholds)
    assert model.threshold(50) == th[100]
    assert model.threshold(149) == th[100]
    assert model.threshold(150) == th[150]
    assert model.threshold(299) == th[250]
    assert model.threshold(900) == th[300]


def test_score_is_deterministic_a_probability_and_the_same_for_int16_and_float(model):
    x = _with_lead(_voiced(250))
    a, b = model.score(x), model.score(x.copy())
    assert a == b
    assert 0.0 <= a <= 1.0
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    assert model.score(pcm) == model.score(pcm.astype(np.float64))


@pytest.mark.parametrize("pcm", [
    np.zeros(0),                                   # empty
    np.zeros(LEAD_MS * 8 + 100),                   # less than 20 ms after the onset
    np.zeros(LEAD_MS * 8 + 2400),                  # digital silence
    np.full(LEAD_MS * 8 + 2400, 500.0),            # a DC offset is not sound
    np.concatenate([_voiced(LEAD_MS), np.zeros(2400)]),   # sound only before the onset
], ids=["empty", "too-short", "silence", "dc", "sound-before-onset-only"])
def test_input_without_evidence_scores_no_evidence_and_is_not_a_backchannel(model, pcm):
    assert features(pcm) is None
    assert model.score(pcm) == NO_EVIDENCE
    assert model.is_backchannel(pcm) is False


def test_16_khz_input_is_resampled_to_the_models_8_khz(model):
    x = _with_lead(_voiced(250))
    up = np.interp(np.arange(len(x) * 2) / 2, np.arange(len(x)), x)
    f8, f16 = features(x), features(up, rate=16000)
    assert f16 is not None and f16[0] == pytest.approx(f8[0])      # the same decision point
    assert model.score(up, rate=16000) == pytest.approx(model.score(x), abs=0.15)


def test_trees_step_down_to_their_leaves_and_add_up_on_the_log_odds():
    n = len(FEATURES)
    # Tree 0: snr_db (feature 1) <= 20 -> -1.0, else +1.0.  Tree 1: a single leaf of 0.5.
    spec = {
        "features": list(FEATURES), "lead_ms": LEAD_MS, "init": 0.25, "learning_rate": 0.5,
        "thresholds": {"100": 0.5},
        "trees": {"depth": 1, "feature": [[1, 0, 0], [0, 0, 0]], "threshold": [[20.0, 0, 0], [0, 0, 0]],
                  "left": [[1, -1, -1], [-1, -1, -1]], "right": [[2, -1, -1], [-1, -1, -1]],
                  "value": [[0.0, -1.0, 1.0], [0.5, 0.0, 0.0]]},
    }
    m = BackchannelModel(spec)
    quiet, loud = np.zeros(n), np.zeros(n)
    quiet[1], loud[1] = 20.0, 20.5
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    assert m.prob(quiet) == pytest.approx(sig(0.25 + 0.5 * (-1.0 + 0.5)))
    assert m.prob(loud) == pytest.approx(sig(0.25 + 0.5 * (1.0 + 0.5)))


def test_a_model_file_for_other_features_is_refused():
    with pytest.raises(ValueError):
        BackchannelModel({"features": ["t_ms"], "lead_ms": 100, "init": 0, "learning_rate": 1,
                          "thresholds": {"100": 0.5}, "trees": {}})


def _flite_clip(voice: str, text: str, t_ms: int) -> np.ndarray:
    """``text`` by flite ``voice`` through mu-law, from LEAD_MS before its onset (the first 10 ms
    within 30 dB of its loudest) to ``t_ms`` after."""
    from turngate.speech.flite_tts import FliteTts

    x = mulaw.decode(FliteTts(voice).synthesize(text).audio).astype(np.float64)
    fr = x[: len(x) // 80 * 80].reshape(-1, 80)
    lv = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-9)
    on = int(np.argmax(lv > lv.max() - 30)) * 80
    x = _with_lead(x)
    return x[on: on + (LEAD_MS + t_ms) * 8]


@needs_flite
@pytest.mark.parametrize("voice", ["rms", "slt", "awb"])
def test_hummed_backchannel_from_a_held_out_voice_scores_above_a_long_sentence_onset(model, voice):
    # rms, slt and awb were never trained on nor used to choose anything.
    hum = model.score(_flite_clip(voice, "um hum", 250))
    sentence = model.score(_flite_clip(voice, "actually I wanted to change the date", 250))
    assert hum > sentence


@needs_flite
@pytest.mark.xfail(strict=True, reason="known failure, see docs/benchmarks.md: on voices it never saw the "
                   "model calls few backchannels backchannel at the validation threshold")
def test_most_bench_backchannels_of_the_held_out_voices_clear_the_validation_threshold(model):
    words = ("uh-huh", "yeah", "okay", "right", "um hum", "sure", "yes", "I see")
    hits = [model.is_backchannel(_flite_clip(v, w, 250)) for v in ("rms", "slt", "awb") for w in words]
    assert sum(hits) >= len(hits) / 2
