"""Backchannel or interruption? An acoustic guess from the first few hundred milliseconds of
the caller's sound, beside the recogniser's words (issue 13).

Theory. A backchannel ("uh-huh", "yeah", "mm hmm", "okay") is one short, usually voiced,
often hummed or nasal burst that is over within 300-500 ms and falls at its end; an
interruption is the start of a sentence: it keeps its level, moves through more sounds
(the spectrum changes from 20 ms to 20 ms) and often starts with a fricative or a stop
("stop", "sorry", "can you", "wait"). None of this is certain in the first 100-150 ms: a
"yeah" and a "yeah but I need ..." begin the same way, and so do "no" the backchannel and
"no" the correction. The score is a probability to weigh beside the words, not a verdict.

Measured (docs/benchmarks.md, "Backchannel classifier (issue 13)"): the bundled model,
trained on synthetic voices only, separates the classes on voices like its training ones
(AUC ~0.8) but scores at chance on voices it never saw (flite rms/slt/awb, AUC 0.52-0.56)
and on real meeting speech. Do not let it decide whether to stop the bot.

Input contract. ``score(pcm)`` takes the caller's channel from ``LEAD_MS`` (100 ms) before
the voiced onset (where a listener hears the voice start; the VAD's speech window is 30-70
ms later) up to "now", which should be 100-300 ms after the onset: ``len(pcm)`` sets the
decision point ``t = len(pcm) / rate * 1000 - LEAD_MS``. The 100 ms before the onset give
the line's floor (noise, our echo) that levels are measured against. The audio is what
arrives on the phone line: 8 kHz, int16 scale (mu-law decoded) or float on the same scale.
Other rates are resampled by linear interpolation (the model was trained at 8 kHz).

Model. 100 gradient-boosted trees of depth 2 over the features of ``features()``, one
model for every decision point (the time since the onset is a feature; it was trained at
100, 150, 200, 250 and 300 ms). The trees and one threshold per decision point, chosen on
the validation split, live in ``turngate/data/backchannel.json.gz`` (written, with how the
model was chosen, by ``tools/train_backchannel.py``). numpy only, deterministic, about
0.25 ms of CPU per score.

Degenerate input has a defined answer: an empty clip, a clip with no sound above the floor
(silence, or only a constant hum) or with less than 20 ms after the onset scores
``NO_EVIDENCE`` (0.5: the classifier has nothing to say, so the words decide).
"""

from __future__ import annotations

import numpy as np

from ..data import bundled_json_gz

__all__ = ["BackchannelModel", "features", "FEATURES", "LEAD_MS", "NO_EVIDENCE", "RATE"]

RATE = 8000
LEAD_MS = 100
NO_EVIDENCE = 0.5
MODEL_FILE = "backchannel.json.gz"

_HOP = 80             # 10 ms level frames
_WIN = 256            # 32 ms analysis windows (pitch, spectrum), hop 20 ms
_WIN_HOP = 160
_FLOOR_DB = -90.0     # levels below this (dBFS) are digital silence
_MIN_POST = 160       # 20 ms after the onset: less than that is no evidence
_LAG_MIN, _LAG_MAX = 20, 100   # autocorrelation lags: 80-400 Hz at 8 kHz
_VOICED = 0.5         # normalised autocorrelation peak of a voiced window

FEATURES = (
    "t_ms",            # decision point, ms after onset (constant within one model)
    "snr_db",          # loudest 10 ms after onset over the floor before it
    "end_drop_db",     # loudest minus the last 30 ms: has the sound ended or is it falling?
    "late_early_db",   # last 50 ms minus first 50 ms after onset
    "slope_db",        # level slope after the peak, dB per 100 ms
    "peak_pos",        # where the peak is, 0 = onset, 1 = now
    "active_10",       # share of frames after onset within 10 dB of the peak
    "active_20",       # ... within 20 dB
    "voicing",         # share of 32 ms windows after onset that are voiced
    "voicing_last",    # is the newest window voiced (0/1)
    "f0_slope",        # pitch slope over voiced windows, semitones per 100 ms
    "f0_range",        # pitch range over voiced windows, semitones
    "low_ratio_db",    # energy 80-400 Hz over 400-3400 Hz (hummed, nasal sounds are low)
    "centroid",        # spectral centroid after onset, kHz
    "tilt_db",         # energy 2-3.4 kHz over 0.1-1 kHz
    "flux",            # mean change of the log spectrum between 20 ms windows
    "zcr",             # zero crossings per sample after onset (floor-gated)
    "zcr_max",         # the most of any 32 ms window (a fricative: "s", "sh", "f")
) + tuple(
    # The spectral envelope in 10 mel bands (100-3600 Hz), log energy less the bands' mean
    # (so not the level): over the first 3 and the last 3 kept windows and over all of them.
    # The first sounds differ by class more than by chance ("uh", "y", "m", "o", "r" against
    # "w", "s", "st", "h", "k"), though many overlap ("yeah" / "yeah but").
    f"band{b}_{part}" for part in ("first", "last", "all") for b in range(10)
)


def _frame_levels(x: np.ndarray) -> np.ndarray:
    n = len(x) // _HOP
    fr = x[: n * _HOP].reshape(n, _HOP)
    ms = np.einsum("ij,ij->i", fr, fr) / _HOP
    return 10.0 * np.log10(np.maximum(ms, 1e-9) / 32768.0 ** 2)


def _windows(x: np.ndarray) -> np.ndarray:
    n = 1 + (len(x) - _WIN) // _WIN_HOP
    if n <= 0:
        return np.zeros((0, _WIN))
    idx = np.arange(_WIN)[None, :] + _WIN_HOP * np.arange(n)[:, None]
    return x[idx]


_HANN = np.hanning(_WIN)
_FREQS = np.fft.rfftfreq(_WIN, 1.0 / RATE)
_BAND_LOW = (_FREQS >= 80) & (_FREQS < 400)
_BAND_MID = (_FREQS >= 400) & (_FREQS < 3400)
_BAND_TILT_LO = (_FREQS >= 100) & (_FREQS < 1000)
_BAND_TILT_HI = (_FREQS >= 2000) & (_FREQS < 3400)
_BAND_SPEECH = (_FREQS >= 80) & (_FREQS < 3600)


def _mel_bands(n: int = 10, lo: float = 100.0, hi: float = 3600.0) -> np.ndarray:
    mel = np.linspace(2595 * np.log10(1 + lo / 700), 2595 * np.log10(1 + hi / 700), n + 1)
    edges = 700 * (10 ** (mel / 2595) - 1)
    return np.array([(_FREQS >= edges[i]) & (_FREQS < edges[i + 1]) for i in range(n)], dtype=np.float64)


_MEL = _mel_bands()


def _as_8k(pcm: np.ndarray, rate: int) -> np.ndarray:
    x = np.asarray(pcm, dtype=np.float64).ravel()
    if rate == RATE or len(x) == 0:
        return x
    n = int(round(len(x) * RATE / rate))
    return np.interp(np.arange(n) * (rate / RATE), np.arange(len(x)), x)


def features(pcm: np.ndarray, *, rate: int = RATE, lead_ms: int = LEAD_MS) -> np.ndarray | None:
    """The feature vector (``FEATURES`` order) of a clip that starts ``lead_ms`` before the
    onset, or None when it carries no evidence (see the module docstring)."""
    x = _as_8k(pcm, rate)
    lead = lead_ms * RATE // 1000
    if len(x) - lead < _MIN_POST:
        return None
    x = x - x.mean()                      # a DC offset is not sound
    lv = _frame_levels(x)
    k0 = lead // _HOP
    pre, post = lv[:k0], lv[k0:]
    if len(post) < 2:
        return None
    floor = float(np.median(pre)) if len(pre) else _FLOOR_DB
    floor = max(floor, _FLOOR_DB)
    peak = float(post.max())
    if peak <= _FLOOR_DB or peak - floor < 3.0:
        return None                       # nothing above the line's floor
    t_ms = (len(x) - lead) * 1000.0 / RATE
    ipk = int(post.argmax())
    last3 = post[-3:]
    end_drop = peak - float(10 * np.log10(np.mean(10 ** (last3 / 10))))
    early = post[:5].mean()
    late = post[-5:].mean()
    tail = post[ipk:]
    if len(tail) >= 3:
        tt = np.arange(len(tail), dtype=np.float64)
        slope = float(np.polyfit(tt, tail, 1)[0]) * 10.0   # dB per 100 ms
    else:
        slope = 0.0
    peak_pos = ipk / max(1, len(post) - 1)
    active_10 = float(np.mean(post > peak - 10))
    active_20 = float(np.mean(post > peak - 20))

    # 32 ms windows from the onset (the first may reach 12 ms before it: windows end in the clip).
    w = _windows(x[max(0, lead - 96):])
    wl = 10 * np.log10(np.maximum(np.einsum("ij,ij->i", w, w) / _WIN, 1e-9) / 32768.0 ** 2)
    keep = wl > max(floor + 6.0, peak - 30.0)      # windows that carry the caller's sound
    if not keep.any():
        keep = wl >= wl.max()
    ws = w[keep]
    # Pitch: normalised autocorrelation (FFT, zero-padded) of each kept window.
    c = ws - ws.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(c, 2 * _WIN)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:, : _LAG_MAX + 1]
    energy = ac[:, 0] + 1e-9
    # Unbiased: divide by the overlap length so long lags are not penalised.
    norm = ac[:, _LAG_MIN:] / energy[:, None] * (_WIN / (_WIN - np.arange(_LAG_MIN, _LAG_MAX + 1)))[None, :]
    best = norm.argmax(axis=1)
    peakr = norm[np.arange(len(norm)), best]
    voiced = peakr > _VOICED
    voicing = float(voiced.mean())
    voicing_last = float(voiced[-1])
    if voiced.sum() >= 2:
        semis = 12 * np.log2(RATE / (best[voiced] + _LAG_MIN) / 100.0)
        pos = np.nonzero(voiced)[0].astype(np.float64) * (_WIN_HOP / 8) / 100.0   # in 100 ms
        f0_slope = float(np.polyfit(pos, semis, 1)[0]) if np.ptp(pos) > 0 else 0.0
        f0_slope = float(np.clip(f0_slope, -24, 24))
        f0_range = float(np.ptp(semis))
    else:
        f0_slope, f0_range = 0.0, 0.0
    # Spectrum of the kept windows.
    p = np.abs(np.fft.rfft(c * _HANN, axis=1)) ** 2 + 1e-6
    ptot = p.sum(axis=0)
    low = ptot[_BAND_LOW].sum()
    mid = ptot[_BAND_MID].sum()
    low_ratio = float(10 * np.log10(low / mid))
    sp = ptot[_BAND_SPEECH]
    centroid = float((sp * _FREQS[_BAND_SPEECH]).sum() / sp.sum()) / 1000.0
    tilt = float(10 * np.log10(ptot[_BAND_TILT_HI].sum() / ptot[_BAND_TILT_LO].sum()))
    if len(p) >= 2:
        logp = np.log10(p[:, _BAND_SPEECH])
        logp = logp - logp.mean(axis=1, keepdims=True)
        flux = float(np.mean(np.sqrt(np.mean(np.diff(logp, axis=0) ** 2, axis=1))))
    else:
        flux = 0.0
    signs = np.signbit(c)
    zc = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    zcr = float(zc.mean())
    zcr_max = float(zc.max())
    bands = np.log10(p @ _MEL.T)
    bands -= bands.mean(axis=1, keepdims=True)
    return np.concatenate([np.array([
        t_ms, min(peak - floor, 60.0), end_drop, late - early, slope, peak_pos, active_10, active_20,
        voicing, voicing_last, f0_slope, f0_range, low_ratio, centroid, tilt, flux, zcr, zcr_max,
    ]), bands[:3].mean(axis=0), bands[-3:].mean(axis=0), bands.mean(axis=0)])


class BackchannelModel:
    """P(backchannel) of a caller's sound from its first 100-300 ms; see the module docstring."""

    def __init__(self, spec: dict) -> None:
        if tuple(spec["features"]) != FEATURES:
            raise ValueError("backchannel model: its features are not this module's FEATURES")
        self.lead_ms = int(spec["lead_ms"])
        self.threshold_rule = str(spec.get("threshold_rule", ""))
        # Gradient-boosted regression trees on the log-odds, padded to one node count so that
        # all trees step down together: node k of tree i is column k of row i; a leaf has left == -1.
        trees = spec["trees"]
        self._feature = np.asarray(trees["feature"], dtype=np.intp)
        self._split = np.asarray(trees["threshold"], dtype=np.float64)
        self._left = np.asarray(trees["left"], dtype=np.intp)
        self._right = np.asarray(trees["right"], dtype=np.intp)
        self._value = np.asarray(trees["value"], dtype=np.float64)
        self._depth = int(trees["depth"])
        self._rows = np.arange(len(self._feature))
        self._init = float(spec["init"])
        self._rate = float(spec["learning_rate"])
        if not (self._feature.shape == self._split.shape == self._left.shape == self._right.shape
                == self._value.shape) or len(self._rows) == 0:
            raise ValueError("backchannel model: malformed trees")
        self.thresholds = tuple(sorted((int(t), float(v)) for t, v in spec["thresholds"].items()))

    @classmethod
    def load(cls) -> "BackchannelModel":
        """The bundled model (``turngate/data/backchannel.json.gz``)."""
        spec = bundled_json_gz(MODEL_FILE)
        if spec is None:
            raise FileNotFoundError(f"turngate/data/{MODEL_FILE} is not in the package")
        return cls(spec)

    def prob(self, f: np.ndarray) -> float:
        """P(backchannel) of one feature vector (``features()``)."""
        # As scikit-learn does: the features as float32, compared with float64 split points.
        x = np.asarray(f, dtype=np.float32).astype(np.float64)
        node = np.zeros(len(self._rows), dtype=np.intp)
        for _ in range(self._depth):
            left = self._left[self._rows, node]
            go = x[self._feature[self._rows, node]] <= self._split[self._rows, node]
            node = np.where(left < 0, node, np.where(go, left, self._right[self._rows, node]))
        z = self._init + self._rate * float(self._value[self._rows, node].sum())
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def threshold(self, t_ms: float) -> float:
        """The validation-chosen threshold of the largest decision point not after ``t_ms``
        (the first one below it)."""
        chosen = self.thresholds[0][1]
        for t, v in self.thresholds:
            if t <= t_ms + 1e-6:
                chosen = v
        return chosen

    def score(self, pcm: np.ndarray, *, rate: int = RATE) -> float:
        """P(backchannel) of ``pcm`` (from ``lead_ms`` before the onset up to now)."""
        f = features(pcm, rate=rate, lead_ms=self.lead_ms)
        return NO_EVIDENCE if f is None else self.prob(f)

    def is_backchannel(self, pcm: np.ndarray, *, rate: int = RATE) -> bool:
        """``score`` at or above its decision point's threshold; no evidence is not a backchannel."""
        f = features(pcm, rate=rate, lead_ms=self.lead_ms)
        return f is not None and self.prob(f) >= self.threshold(f[0])
