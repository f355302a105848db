"""Private G.711 mu-law codec (bit-exact with the old ``audioop.lin2ulaw``/``ulaw2lin``).

A stop-gap: ``turngate.audio.mulaw`` is the project's codec; this copy exists
only so the speech providers and their benchmark work before it lands, and
should be replaced by an import of it.
"""

from __future__ import annotations

import numpy as np

_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_encode_table() -> np.ndarray:
    # Index by the int16 sample reinterpreted as uint16; one lookup per sample afterwards.
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + (0x84 >> 2)
    seg = np.searchsorted(_SEG_END, mag, side="left")
    uval = (seg << 4) | ((mag >> (seg + 1)) & 0xF)
    return (uval ^ mask).astype(np.uint8)


def _build_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


_ENCODE = _build_encode_table()
_DECODE = _build_decode_table()


def encode(pcm: np.ndarray) -> bytes:
    """int16 samples -> mu-law bytes."""
    return _ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


def decode(data: bytes) -> np.ndarray:
    """mu-law bytes -> int16 samples."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]
