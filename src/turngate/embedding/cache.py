"""A sentence encoder with a small cache that the shell can fill ahead of the core.

The route gate runs the full MiniLM encoder on finals only, and that costs
20-30 ms of CPU: too long to spend inside ``Call.handle`` on the event loop, where
every call's frames wait. So the shell computes the embedding of a final in a
worker thread (numpy releases the GIL) *before* it feeds ``FinalTranscript`` to
the core; the gate then finds it here. A miss (the gate asked about different
text) still works: it computes inline, as before.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np


SHIPPED = Path(__file__).resolve().parents[1] / "data" / "embeddings"


def embeddings_file(model_id: str, texts: list[str]) -> str:
    return "embeddings-" + hashlib.sha256("\x1f".join([model_id, *texts]).encode()).hexdigest()[:24] + ".npy"


def for_policy(policy: Any, cache_dir: str | Path | None = None) -> CachedEncoder | None:
    """The route encoder the policy asks for (``route_gate.encoder: auto``), cached, or
    None (sparse only). Build routers with it, not with ``Router.from_policy``'s own
    loading: only this one finds the bundled policy's shipped example embeddings.
    ``cache_dir`` is ``Config.cache_dir``: where a custom policy's example embeddings
    are kept (None: computed at every start)."""
    if policy.route_gate.encoder != "auto":
        return None
    from .minilm import load_if_available

    encoder = load_if_available()
    p = policy.route_gate
    layers = p.encoder_tune_layers if p.encoder_tune_epochs else 0
    return CachedEncoder(encoder, cache_dir=cache_dir, token_layers=layers) if encoder is not None else None


class CachedEncoder:
    def __init__(self, encoder: Any, size: int = 256, *, cache_dir: str | Path | None = None,
                 token_layers: int = 0) -> None:
        self.encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.model_id = f"{type(encoder).__name__}:{encoder.dim}:v1"
        self.dim = encoder.dim
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # A router that tuned the encoder reads a final's token states, not its embedding:
        # the prefetch keeps both (one encoding gives both, ``finish`` is the last block).
        # ``token_layers``: the router tuned the last whole layers; the states kept are those
        # entering them (``encode_tokens(..., layers)``).
        self._tokens: OrderedDict[str, np.ndarray] = OrderedDict()
        self.token_layers = token_layers
        self._with_tokens = hasattr(encoder, "encode_tokens") and hasattr(encoder, "finish")
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def warm(self, text: str) -> None:
        """Compute and keep the embedding of ``text`` (call from a worker thread)."""
        key = text.strip()
        with self._lock:
            if key in self._cache:
                return
        states = None
        if self._with_tokens:
            states = self.encoder.encode_tokens([key], layers=self.token_layers)[0]
            vec = self.encoder.finish([states], layers=self.token_layers)[0]
        else:
            vec = self.encoder.encode_one(key)
        with self._lock:
            self._cache[key] = vec
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
            if states is not None:
                self._tokens[key] = states
                while len(self._tokens) > self.size:
                    self._tokens.popitem(last=False)

    def encode_one(self, text: str) -> np.ndarray:
        key = text.strip()
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self.hits += 1
                return vec
            self.misses += 1
        vec = self.encoder.encode_one(key)
        with self._lock:  # kept: the guard asks about the same final right after the route gate
            self._cache[key] = vec
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vec

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings of many texts (the policy's examples, at start-up), kept on disk:
        encoding a policy's few hundred examples costs from seconds to most of a minute on
        a busy 2-core machine, and they only change when the policy does."""
        name = embeddings_file(self.model_id, texts)
        path = self.cache_dir / name if self.cache_dir is not None else None
        for candidate in (SHIPPED / name, path):  # the bundled policy's ship with the package
            if candidate is None:
                continue
            try:
                cached = np.load(candidate)
                if cached.shape == (len(texts), self.dim):
                    return cached
            except (OSError, ValueError):
                pass
        out = self.encoder.encode(texts, batch_size)
        if path is None:
            return out
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, out)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except OSError:
            pass  # a read-only home is fine: the next start computes again
        return out

    # The rest of the encoder's interface passes through untouched.

    def encode_static(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_static(texts)

    def encode_static_one(self, text: str) -> np.ndarray:
        return self.encoder.encode_static_one(text)

    def encode_tokens(self, texts: list[str], layers: int = 0) -> list[np.ndarray]:
        if len(texts) == 1 and layers == self.token_layers:  # a final the shell prefetched
            with self._lock:
                states = self._tokens.get(texts[0].strip())
                if states is not None:
                    self.hits += 1
                    return [states]
        return self.encoder.encode_tokens(texts, layers=layers)

    def tune(self, states: list[np.ndarray], labels: np.ndarray, n_classes: int, *, epochs: int, lr: float,
             layers: int = 0) -> Any:
        return self.encoder.tune(states, labels, n_classes, epochs=epochs, lr=lr, layers=layers)

    def finish(self, states: list[np.ndarray], params: Any = None, layers: int = 0) -> np.ndarray:
        return self.encoder.finish(states, params, layers=layers)
