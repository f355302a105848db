"""The VAD components against reference outputs and real audio."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from turngate.vad import PreGate, SileroBatch, SileroModel, WebRtcVad, model_path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "audio"


def test_silero_model_ships_in_the_wheel_and_loads_without_torch():
    import sys

    assert model_path().name == "silero_vad.onnx"
    SileroModel()
    assert "torch" not in sys.modules


@pytest.mark.skipif(not (DATA / "webrtcvad").is_dir(), reason="../shared/data not available")
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_webrtc_frames_match_py_webrtcvad_reference(mode):
    raw = np.frombuffer((DATA / "webrtcvad" / "test-audio.raw").read_bytes(), dtype=np.int16)
    with open(DATA / "webrtcvad" / "expected_webrtcvad_frames.csv", newline="") as f:
        rows = {int(r["vad_mode"]): r["expected_frame_decisions"] for r in csv.DictReader(f)}
    vad = WebRtcVad(mode)
    got = "".join("1" if vad.is_speech(raw[i:i + 240]) else "0"
                  for i in range(0, len(raw) - 239, 240))
    assert got == rows[mode]


def test_webrtc_rejects_frame_sizes_it_cannot_take():
    with pytest.raises(ValueError):
        WebRtcVad(2).is_speech(np.zeros(256, np.int16))
    with pytest.raises(ValueError):
        WebRtcVad(4)


def _probs(path: Path, seconds: int = 20) -> np.ndarray:
    import wave

    import soxr

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    x = soxr.resample(x.astype(np.float32), rate, 8000).astype(np.int16)[: 8000 * seconds]
    b = SileroBatch(pregate=PreGate(enabled=False))
    b.register(0)
    out = []
    for i in range(0, len(x) - 159, 160):
        b.push(0, x[i:i + 160])
        out += [p for _, p, _ in b.run()]
    return np.array(out)


@pytest.mark.skipif(not (DATA / "noise").is_dir(), reason="../shared/data not available")
def test_silero_hears_read_speech_and_not_kitchen_noise():
    speech = _probs(DATA / "cmu_arctic" / "arctic_a0010.wav")
    dishes = _probs(DATA / "noise" / "doing_the_dishes.wav")
    bike = _probs(DATA / "noise" / "exercise_bike.wav")
    assert np.mean(speech >= 0.5) > 0.7
    assert np.mean(dishes >= 0.5) < 0.02
    assert np.mean(bike >= 0.5) < 0.02
