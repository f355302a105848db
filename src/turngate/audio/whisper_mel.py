"""Whisper log-mel features of an 8 s window, as the smart-turn end-of-turn model reads them.

The model (``vad/smart_turn.py``) takes the last 8 s of a turn at 16 kHz, zero-padded at
the *front* when the turn is shorter, as 80 log-mel bands x 800 frames computed the way
``transformers.WhisperFeatureExtractor(chunk_length=8)`` does (and Pipecat's numpy copy
of it, ``pipecat/audio/turn/smart_turn/_whisper_features.py``): waveform normalised to
zero mean and unit variance, 400-point periodic Hann window, hop 160, centred frames
with reflect padding, power spectrum, Slaney mel filterbank 0-8 kHz, log10 with a floor,
clamped to 8 below the maximum, then ``(x + 4) / 4``.

Our own code, for two reasons: Pipecat's package cannot be imported without its
dependency tree (its ``__init__`` imports loguru), and most of the window is padding.
Every frame whose 400 samples lie inside the front padding sees the same constant
(the normalised zero), so its spectrum is computed once; a 2 s turn costs a quarter
of the FFTs. ``tests/test_whisper_mel.py`` checks the result against Pipecat's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE_RATE", "WINDOW_SAMPLES", "log_mel"]

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 8 * SAMPLE_RATE
N_FFT = 400
HOP = 160
N_MELS = 80
FRAMES = WINDOW_SAMPLES // HOP  # 800 (the reference computes 801 and drops the last)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.atleast_1d(np.asarray(f, dtype=np.float64))
    mel = 3.0 * f / 200.0
    log = f >= 1000.0
    mel[log] = 15.0 + np.log(f[log] / 1000.0) * (27.0 / np.log(6.4))
    return mel


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    f = 200.0 * m / 3.0
    log = m >= 15.0
    f[log] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m[log] - 15.0))
    return f


def _filterbank() -> np.ndarray:
    """(80, 201) Slaney-normalised triangular filters over the rFFT bins."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([SAMPLE_RATE / 2]))[0],
                                   N_MELS + 2))
    bins = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = edges[None, :] - bins[:, None]
    width = np.diff(edges)
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    fb *= (2.0 / (edges[2:N_MELS + 2] - edges[:N_MELS]))[None, :]
    return np.ascontiguousarray(fb.T)


_FB = _filterbank()
_HANN = np.hanning(N_FFT + 1)[:-1]  # periodic, as torch.hann_window


def log_mel(audio16k: np.ndarray) -> np.ndarray:
    """(80, 800) float32 features of the last 8 s of ``audio16k`` (float, [-1, 1] scale),
    zero-padded at the front when shorter."""
    x = np.asarray(audio16k, dtype=np.float32).ravel()[-WINDOW_SAMPLES:]
    pad = WINDOW_SAMPLES - x.size
    # Normalise over the padded window, in float32 as the reference does; the padding's
    # value after normalisation is one constant.
    n = WINDOW_SAMPLES
    s1 = float(x.sum(dtype=np.float64))
    mean = np.float32(s1 / n)
    var = (float(((x - mean).astype(np.float64) ** 2).sum()) + pad * float(mean) ** 2) / n
    scale = np.float32(np.sqrt(np.float32(var) + np.float32(1e-7)))
    y = np.empty(WINDOW_SAMPLES, np.float32)
    y[:pad] = (np.float32(0.0) - mean) / scale
    y[pad:] = (x - mean) / scale
    half = N_FFT // 2
    padded = np.pad(y.astype(np.float64), (half, half), mode="reflect")
    # Frame i covers padded[i*HOP : i*HOP + N_FFT]; padded[j] = y[j - half] (reflected at
    # the start, where y is the padding constant too). Frames ending before the padding
    # ends are all the same constant.
    same = 0 if pad <= half else min(FRAMES, (pad + half - N_FFT) // HOP + 1)
    power = np.empty((N_FFT // 2 + 1, FRAMES), np.float64)
    if same:
        frame = padded[:N_FFT] * _HANN
        power[:, :same] = (np.abs(np.fft.rfft(frame)) ** 2)[:, None]
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[same * HOP:FRAMES * HOP:HOP]
    power[:, same:] = (np.abs(np.fft.rfft(windows * _HANN, axis=-1)) ** 2).T
    mel = np.log10(np.maximum(1e-10, _FB @ power))
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)
