"""Signal level in dBFS (RMS relative to int16 full scale).

A full-scale square wave reads 0 dBFS and a full-scale sine about -3 dBFS (no
AES +3 dB sine correction). Digital silence reads ``SILENCE_DB`` rather than
minus infinity, so levels can be compared and subtracted without special cases.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["level_db", "levels_db", "chunk_levels_db", "mulaw_level_db", "SILENCE_DB"]

SILENCE_DB = -100.0
_FULL_SCALE = 32768.0


def level_db(pcm: np.ndarray) -> float:
    """RMS level of int16 samples (or floats scaled to [-1, 1)) in dBFS."""
    x = np.asarray(pcm)
    if x.size == 0:
        return SILENCE_DB
    if x.dtype.kind == "f":
        ms = float(np.einsum("i,i->", x.ravel(), x.ravel())) / x.size
    else:
        xf = x.astype(np.float64).ravel()
        # einsum, not np.dot: no BLAS call (and no BLAS thread hand-off) for a sum of squares.
        ms = float(np.einsum("i,i->", xf, xf)) / x.size / (_FULL_SCALE * _FULL_SCALE)
    if ms <= 0.0:
        return SILENCE_DB
    return max(SILENCE_DB, 10.0 * math.log10(ms))


def _mulaw_squares() -> np.ndarray:
    from .mulaw import DECODE_TABLE

    sq = DECODE_TABLE.astype(np.float64) ** 2 / (_FULL_SCALE * _FULL_SCALE)
    sq.flags.writeable = False
    return sq


_MULAW_SQUARES = _mulaw_squares()


def mulaw_level_db(payload: bytes) -> float:
    """``level_db(mulaw.decode(payload))`` in one table lookup: each mu-law byte's squared
    sample, scaled, is precomputed, so no int16 array and no float64 copy of it are made
    (the shell takes the level of every outbound chunk for the console's timeline)."""
    n = len(payload)
    if n == 0:
        return SILENCE_DB
    ms = float(_MULAW_SQUARES.take(np.frombuffer(payload, dtype=np.uint8)).sum()) / n
    if ms <= 0.0:
        return SILENCE_DB
    return max(SILENCE_DB, 10.0 * math.log10(ms))


def levels_db(windows: np.ndarray) -> np.ndarray:
    """Per-row RMS level in dBFS of a 2-D float array scaled to [-1, 1)."""
    ms = np.einsum("ij,ij->i", windows, windows) / windows.shape[1]
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(ms)
    return np.maximum(out, SILENCE_DB)


def chunk_levels_db(pcm: np.ndarray, chunk: int = 800) -> tuple[float, ...]:  # 100 ms at 8 kHz
    """Level of each ``chunk`` samples of int16 audio (the last one may be short):
    the playback ledger's reference for how loud our own echo can be, moment by moment."""
    x = np.asarray(pcm, dtype=np.float64) / _FULL_SCALE
    n = len(x)
    if n == 0:
        return ()
    pad = (-n) % chunk
    rows = np.concatenate([x, np.zeros(pad)]).reshape(-1, chunk)
    ms = np.einsum("ij,ij->i", rows, rows) / chunk
    if pad:
        ms[-1] *= chunk / (chunk - pad)
    with np.errstate(divide="ignore"):
        out = np.maximum(10.0 * np.log10(ms), SILENCE_DB)
    return tuple(float(v) for v in out)
