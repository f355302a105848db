"""Per-source rate limiting with bounded memory. Time is an argument.

``RateLimiter.check(source, now)`` is a token bucket per source: ``burst``
requests at once, refilled at ``rate`` per second. It returns ``None`` to let a
request in, or the seconds until the source may try again (for ``Retry-After``).

Memory is bounded by ``max_sources``: when a new source arrives and the table is
full, the least recently seen source is forgotten (O(1)); a source that is being
limited is recently seen, so it is the last to go. An attacker with more
addresses than ``max_sources`` gets a fresh bucket per address; the per-process
cap on calls still holds them.
"""

from __future__ import annotations

import math
from collections import OrderedDict


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, max_sources: int = 10_000) -> None:
        if rate <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("rate must be positive, burst and max_sources at least 1")
        self.rate, self.burst, self.max_sources = rate, burst, max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # source -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, source: str, now: float) -> float | None:
        entry = self._buckets.pop(source, None)
        if entry is None:
            while len(self._buckets) >= self.max_sources:
                self._buckets.popitem(last=False)
            tokens = float(self.burst)
        else:
            tokens = min(float(self.burst), entry[0] + (now - entry[1]) * self.rate)
        if tokens >= 1.0:
            self._buckets[source] = (tokens - 1.0, now)
            return None
        self._buckets[source] = (tokens, now)
        return (1.0 - tokens) / self.rate


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
