"""A sentence encoder with a small cache that the shell can fill ahead of the core.

The route gate runs the full MiniLM encoder on finals only, and that costs
20-30 ms of CPU: too long to spend inside ``Call.handle`` on the event loop, where
every call's frames wait. So the shell computes the embedding of a final in a
worker thread (numpy releases the GIL) *before* it feeds ``FinalTranscript`` to
the core; the gate then finds it here. A miss (the gate asked about different
text) still works: it computes inline, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np


class CachedEncoder:
    def __init__(self, encoder: Any, size: int = 256) -> None:
        self.encoder = encoder
        self.dim = encoder.dim
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def warm(self, text: str) -> None:
        """Compute and keep the embedding of ``text`` (call from a worker thread)."""
        key = text.strip()
        with self._lock:
            if key in self._cache:
                return
        vec = self.encoder.encode_one(key)
        with self._lock:
            self._cache[key] = vec
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)

    def encode_one(self, text: str) -> np.ndarray:
        key = text.strip()
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self.hits += 1
                return vec
            self.misses += 1
        return self.encoder.encode_one(key)

    # The rest of the encoder's interface passes through untouched.
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.encoder.encode(texts, batch_size)

    def encode_static(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode_static(texts)

    def encode_static_one(self, text: str) -> np.ndarray:
        return self.encoder.encode_static_one(text)
