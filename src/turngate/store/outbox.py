"""Outbox delivery: a policy that decides and a driver that acts (as in tenacity).

The outbox rows were written in the same transaction as the decisions that
caused them, so a crash cannot lose one without the other. Delivering them is
at-least-once: a process that dies between delivering and marking delivered
will deliver again. Targets therefore dedupe by the row's idempotency key
(:class:`JsonlDelivery` shows how), which turns at-least-once into
effectively-once.

:class:`RetryPolicy` is pure: given a row and ``now`` it says
:class:`DoDeliver`, :class:`DoWait` or :class:`GiveUp`; given a failure it
says when to try next (capped exponential back-off with jitter from an
injected random source, so tests are exact). :func:`deliver_pending` is the
small driver that reads due rows, asks the policy, calls the target and
records the result.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import assert_never

from .base import PendingDelivery, Store

__all__ = [
    "PermanentDeliveryError", "DoDeliver", "DoWait", "GiveUp", "Step", "RetryPolicy", "DeliveryReport",
    "deliver_pending", "JsonlDelivery",
]

log = logging.getLogger("turngate.store.outbox")

_dc = dataclass(frozen=True, slots=True, kw_only=True)


class PermanentDeliveryError(Exception):
    """A target's answer that no retry can change (the call no longer exists, the
    request is invalid): the row is given up at once, with this reason."""


@_dc
class DoDeliver:
    """Deliver now."""


@_dc
class DoWait:
    """Not due yet: leave the row until ``until``."""

    until: datetime


@_dc
class GiveUp:
    """Stop retrying; the row stays in the store, marked for an operator."""

    reason: str


Step = DoDeliver | DoWait | GiveUp


@_dc
class RetryPolicy:
    """Capped exponential back-off with jitter.

    After the n-th failed attempt the next one waits
    ``min(cap_s, base_s * factor**(n-1))`` scaled by a factor drawn uniformly in
    ``[1 - jitter, 1 + jitter]`` (then capped again), so a CRM outage does not
    bring every gateway back at the same instant. ``rng`` returns floats in
    ``[0, 1)``; inject a seeded or constant one for exact tests.
    """

    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.2
    max_attempts: int = 12
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, failed_attempts: int) -> timedelta:
        raw = min(self.cap_s, self.base_s * self.factor ** max(0, failed_attempts - 1))
        scaled = raw * (1.0 - self.jitter + 2.0 * self.jitter * self.rng())
        return timedelta(seconds=min(self.cap_s, scaled))

    def next_step(self, item: PendingDelivery, now: datetime) -> Step:
        if item.attempts >= self.max_attempts:
            return GiveUp(reason=f"gave up after {item.attempts} attempts")
        if item.next_attempt_at is not None and now < item.next_attempt_at:
            return DoWait(until=item.next_attempt_at)
        return DoDeliver()

    def after_failure(self, item: PendingDelivery, now: datetime,
                      error: BaseException | None = None) -> DoWait | GiveUp:
        """What to do after the attempt that just failed (``item`` as read before it)."""
        if isinstance(error, PermanentDeliveryError):
            return GiveUp(reason="permanent failure")
        failed = item.attempts + 1
        if failed >= self.max_attempts:
            return GiveUp(reason=f"gave up after {failed} attempts")
        return DoWait(until=now + self.delay(failed))


@_dc
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    waiting: int = 0
    gave_up: int = 0


def deliver_pending(
    store: Store,
    deliver: Callable[[PendingDelivery], None],
    now: datetime,
    *,
    policy: RetryPolicy | None = None,
    limit: int = 100,
    lease_s: float = 60.0,
) -> DeliveryReport:
    """One pass over the outbox rows due by ``now``.

    ``deliver`` raises to report failure; it receives the row with its
    ``key`` and must treat a key it has seen as already done. A store that can
    claim rows (``outbox_claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) hands
    each due row to one worker only, so several gateway processes sharing it
    deliver each row once; a worker that dies mid-pass leaves its rows to the
    others when ``lease_s`` runs out (then the key makes a redelivery harmless).
    """
    policy = policy or RetryPolicy()
    delivered = failed = waiting = gave_up = 0
    claim = getattr(store, "outbox_claim", None)
    rows = claim(limit, due_by=now, lease_s=lease_s) if claim is not None else store.outbox_pending(limit, due_by=now)
    for item in rows:
        step = policy.next_step(item, now)
        match step:
            case DoWait():
                waiting += 1
                continue
            case GiveUp(reason=reason):
                store.outbox_give_up(item.key, reason)
                gave_up += 1
                continue
            case DoDeliver():
                pass
            case _:
                assert_never(step)
        try:
            deliver(item)
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            after = policy.after_failure(item, now, e)
            log.warning("outbox delivery %s (%s) failed: %s", item.key, item.kind, error)
            match after:
                case DoWait(until=until):
                    store.outbox_mark_failed(item.key, error, until)
                    failed += 1
                case GiveUp(reason=reason):
                    store.outbox_mark_failed(item.key, error, now)
                    store.outbox_give_up(item.key, f"{reason}; last error: {error}")
                    gave_up += 1
                case _:
                    assert_never(after)
        else:
            store.outbox_mark_delivered(item.key)
            delivered += 1
    return DeliveryReport(delivered=delivered, failed=failed, waiting=waiting, gave_up=gave_up)


class JsonlDelivery:
    """A delivery target that appends one JSON line per row to a file (the demo's CRM).

    Idempotent by key: keys already in the file are skipped, so redelivery
    after a crash writes nothing twice. One process per file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        if self.path.exists():
            with self.path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        self._seen.add(json.loads(line)["key"])
                    except (ValueError, KeyError, TypeError):
                        # A line torn by a crash mid-write: its row was never marked
                        # delivered, so it will be delivered again in full.
                        continue

    def __call__(self, item: PendingDelivery) -> None:
        with self._lock:
            if item.key in self._seen:
                return
            line = json.dumps(
                {"key": item.key, "kind": item.kind, "call_id": item.call_id, "payload": item.payload},
                sort_keys=True,
            )
            with self.path.open("a+b") as f:
                if f.seek(0, os.SEEK_END) > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        f.write(b"\n")  # close a torn line before appending
                f.write(line.encode("utf-8") + b"\n")
                f.flush()
                os.fsync(f.fileno())
            self._seen.add(item.key)
