"""A circuit breaker per model provider: the policy decides, the runner acts.

Theory of operation
-------------------
Each provider (one ``base_url`` + ``model``) has one breaker, shared by every call
of the process. It is pure: no clock reads, no I/O; ``now`` (seconds, any
monotonic origin) is an argument to every method, so a test steps a fake clock.

    closed     --(failures_to_open consecutive failures)-->  open
    open       --(cool_down_s passed; the next attempt)--->  half_open (that attempt is the probe)
    half_open  --(the probe succeeds)--------------------->  closed
    half_open  --(the probe fails)------------------------>  open (the cool-down starts again)

Before an attempt the runner asks :meth:`CircuitBreaker.check`, which answers
:class:`Admit`, :class:`Probe` (admitted as the single half-open probe) or
:class:`Refuse` (with the time the next probe may go). A refused attempt becomes
``ModelFailed(kind="circuit_open")`` at once: the fallback policy moves on without
waiting for a provider known to be down. After the attempt the runner reports
:meth:`success`, :meth:`failure` or, for an attempt that was cancelled (a barge-in,
a hedge that lost), :meth:`release`: a cancelled attempt says nothing about the
provider's health, but a cancelled probe must free the probe slot.

Only failures that say the provider is unwell count (``HEALTH_KINDS``): a 429, a
5xx, a broken stream, a timeout. A missing key or a rejected request is the
operator's problem; tripping the breaker on it would only hide the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BreakerPolicy", "Admit", "Probe", "Refuse", "Check", "CircuitBreaker", "Breakers", "HEALTH_KINDS"]

_dc = dataclass(frozen=True, slots=True, kw_only=True)

HEALTH_KINDS: frozenset[str] = frozenset({"rate_limited", "server_error", "disconnect", "timeout"})
BreakerState = Literal["closed", "open", "half_open"]


@_dc
class BreakerPolicy:
    failures_to_open: int = 3
    cool_down_s: float = 30.0


@_dc
class Admit:
    """Closed: go ahead."""


@_dc
class Probe:
    """Half-open: go ahead; this attempt decides whether the breaker closes."""


@_dc
class Refuse:
    """Open (or half-open with the probe out): fail at once. ``retry_at`` is the
    earliest time a probe may go (``now`` when a probe is already out)."""

    retry_at: float


Check = Admit | Probe | Refuse


class CircuitBreaker:
    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self.state: BreakerState = "closed"
        self.failures = 0            # consecutive health failures while closed
        self.opened_at = 0.0
        self._probe_out = False

    def check(self, now: float) -> Check:
        if self.state == "closed":
            return Admit()
        if self.state == "open":
            retry_at = self.opened_at + self.policy.cool_down_s
            if now < retry_at:
                return Refuse(retry_at=retry_at)
            self.state = "half_open"
        if self._probe_out:
            return Refuse(retry_at=now)
        self._probe_out = True
        return Probe()

    def success(self, now: float) -> None:
        self.state, self.failures, self._probe_out = "closed", 0, False

    def failure(self, now: float, kind: str = "server_error") -> None:
        if kind not in HEALTH_KINDS:
            self.release(now)
            return
        if self.state == "half_open":
            self._open(now)
            return
        self.failures += 1
        if self.state == "closed" and self.failures >= self.policy.failures_to_open:
            self._open(now)

    def release(self, now: float) -> None:
        """An admitted attempt ended without a verdict on the provider (it was cancelled)."""
        self._probe_out = False

    def _open(self, now: float) -> None:
        self.state, self.opened_at, self.failures, self._probe_out = "open", now, 0, False


class Breakers:
    """One breaker per provider key (``base_url`` + ``model``), created on first use."""

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._by_key: dict[str, CircuitBreaker] = {}

    def for_key(self, key: str) -> CircuitBreaker:
        b = self._by_key.get(key)
        if b is None:
            b = self._by_key[key] = CircuitBreaker(self.policy)
        return b

    def states(self) -> dict[str, BreakerState]:
        return {k: b.state for k, b in self._by_key.items()}
