"""Caller-side audio for the simulator: sources, the line's own codec, noise and echo.

Everything here works on 8 kHz int16 numpy arrays, the phone line's rate. The
simulator keeps its own G.711 mu-law codec on purpose: it stands in for Twilio,
so it must not share the gateway's codec (a shared bug would cancel out and pass
every test). The formula is the ITU-T G.711 one, bit-exact with the old
``audioop.lin2ulaw``/``ulaw2lin``.

Sources are rendered *before* the call starts (flite synthesis and resampling
take real time, and a caller whose next word is late because a synthesizer was
busy would skew every reaction-time figure).
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio import mulaw

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms, what Twilio sends per media message
FRAME_MS = 20
SILENCE_BYTE = 0xFF  # mu-law of linear zero: what an idle phone line carries

FLITE = "/usr/bin/flite"
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
DEFAULT_CALLER_VOICE = "rms"  # the bot's default flite voice is kal or slt; the caller must sound different


# -- G.711 mu-law: the gateway's own codec (bit-exact with audioop) -------------


def ulaw_encode(pcm: np.ndarray) -> bytes:
    return mulaw.encode(np.asarray(pcm, dtype=np.int16))


def ulaw_decode(data: bytes) -> np.ndarray:
    return mulaw.decode(data)


# -- sources -----------------------------------------------------------------


def read_wav(path: Path) -> np.ndarray:
    """A PCM WAV file as 8 kHz mono int16 (mixed down and resampled with soxr)."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        import soxr

        x = soxr.resample(x, rate, RATE, quality="HQ")
    return to_int16(x * 32768.0)


def write_wav(path: Path, pcm: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


@lru_cache(maxsize=256)
def _flite(text: str, voice: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="turngate-sim-") as d:
        out = Path(d) / "say.wav"
        subprocess.run([FLITE, "-voice", voice, "-t", text, "-o", str(out)],
                       check=True, capture_output=True, timeout=60)
        return out.read_bytes()


def synthesize(text: str, voice: str = DEFAULT_CALLER_VOICE) -> np.ndarray:
    """``text`` spoken by flite's ``voice``, as 8 kHz int16 (cached per process)."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        f.write(_flite(text, voice))
        f.flush()
        return read_wav(Path(f.name))


def gain_db(pcm: np.ndarray, db: float) -> np.ndarray:
    if db == 0:
        return pcm
    return to_int16(pcm.astype(np.float32) * 10 ** (db / 20))


# -- levels and onsets ---------------------------------------------------------

_WIN = 80  # 10 ms


def _window_rms(pcm: np.ndarray) -> np.ndarray:
    n = len(pcm) // _WIN
    if n == 0:
        return np.zeros(0)
    w = pcm[: n * _WIN].astype(np.float64).reshape(n, _WIN)
    return np.sqrt((w * w).mean(axis=1))


def speech_onset_ms(pcm: np.ndarray) -> int:
    """Where speech starts inside a clip, by energy: the first 10 ms window above
    -35 dB of the clip's loudest window that is followed by sustained energy
    (3 of the next 5 windows), so a click or breath before the word does not count.
    A clip's start is not its onset: flite and recorded clips have leading silence."""
    rms = _window_rms(pcm)
    if rms.size == 0 or rms.max() <= 0:
        return 0
    thr = max(rms.max() * 10 ** (-35 / 20), 100.0)
    above = rms > thr
    for i in np.flatnonzero(above):
        if above[i : i + 6].sum() >= min(4, len(above) - i):
            return int(i * 10)
    return int(np.flatnonzero(above)[0] * 10)


def active_rms(pcm: np.ndarray) -> float:
    """RMS over the clip's speech-active windows (within 30 dB of its peak): the
    reference level for a signal-to-noise ratio, so leading silence does not count."""
    rms = _window_rms(pcm)
    if rms.size == 0 or rms.max() <= 0:
        return 0.0
    act = rms[rms > rms.max() * 10 ** (-30 / 20)]
    return float(np.sqrt((act * act).mean()))


# -- the line: noise and echo mixed under the caller ------------------------


@dataclass(slots=True)
class NoiseBed:
    """A looping background noise at a fixed gain, read frame by frame."""

    pcm: np.ndarray  # float32, already scaled
    pos: int = 0

    @classmethod
    def at_snr(cls, noise: np.ndarray, speech_rms: float, snr_db: float) -> NoiseBed:
        n_rms = float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))) or 1.0
        target = speech_rms / 10 ** (snr_db / 20)
        return cls(pcm=(noise.astype(np.float32) * (target / n_rms)))

    def take(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        got = 0
        while got < n:
            k = min(n - got, len(self.pcm) - self.pos)
            out[got : got + k] = self.pcm[self.pos : self.pos + k]
            got += k
            self.pos = (self.pos + k) % len(self.pcm)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoPath:
    """A phone line without echo cancellation: the caller's microphone picks up
    the bot's played audio ``delay_ms`` later, ``attenuation_db`` quieter."""

    delay_ms: int
    attenuation_db: float

    @property
    def delay_samples(self) -> int:
        return self.delay_ms * RATE // 1000

    @property
    def gain(self) -> float:
        return 10 ** (-self.attenuation_db / 20)
