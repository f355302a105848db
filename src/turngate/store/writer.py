"""DecisionWriter: the asyncio shell's path to the store.

The event loop must never wait on a disk or a database, and a decision must
never be lost. So the shell hands records to :meth:`DecisionWriter.submit`,
which only validates and enqueues, and one background thread drains the queue
into the store, several submissions per transaction.

Full-queue policy: **spill, never block, never drop.** The queue has a soft
``capacity`` (decisions plus outbox items). Past it, submissions still go in
(the backlog "spills" over capacity); each spill is counted in
:attr:`DecisionWriter.spilled` and the crossing is logged once per episode. The
reasoning: blocking would stall every call on this process's event loop, and
dropping would break the one promise of the decision log. Memory grows instead,
visibly: a store that stays down long enough exhausts it, and ``backlog`` shows
that coming well before.

Store failures: the batch in hand is retried with capped exponential back-off
and every failure is logged; nothing moves past it, so records reach the store
in submission order (a ``start_call`` before its decisions, ``end_call`` after
them). Writes are idempotent by key, so a retry after a lost acknowledgement
duplicates nothing.

Each submission is atomic: its decisions and outbox items land in one
transaction (consecutive submissions may share one).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.decisions import Decision
from .base import OutboxItem, Store

__all__ = ["DecisionWriter"]

log = logging.getLogger("turngate.store")

_dc = dataclass(frozen=True, slots=True, kw_only=True)


@_dc
class _Append:
    decisions: tuple[Decision, ...]
    outbox: tuple[OutboxItem, ...] = ()

    @property
    def size(self) -> int:
        return len(self.decisions) + len(self.outbox)


@_dc
class _CallStart:
    call_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    size: int = 1


@_dc
class _CallEnd:
    call_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    size: int = 1


_Entry = _Append | _CallStart | _CallEnd


class DecisionWriter:
    """Background writer over a :class:`~turngate.store.base.Store`.

    ``submit``, ``start_call`` and ``end_call`` never block on the store and are
    safe from any thread, including the event loop. ``flush`` and ``close``
    wait, so the shell calls them off the loop (``asyncio.to_thread``).
    ``sleep`` is injectable so tests can watch the back-off without waiting.
    """

    def __init__(
        self,
        store: Store,
        *,
        capacity: int = 10_000,
        batch_max: int = 500,
        retry_base_s: float = 0.05,
        retry_cap_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._capacity = capacity
        self._batch_max = batch_max
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._sleep = sleep
        self._cond = threading.Condition()
        self._queue: deque[_Entry] = deque()
        self._in_flight: list[_Entry] = []
        self._queued = 0  # decisions + outbox items in _queue
        self._submitted = 0  # entries ever accepted
        self._written = 0  # entries durably written; FIFO, so a prefix of _submitted
        self._over_capacity = False
        self._closing = False
        self.spilled = 0
        self.failures = 0
        # Called with each batch's seconds to durable (retries included): the store write latency.
        self.observe: Callable[[float], None] | None = None
        self._thread = threading.Thread(target=self._run, name="turngate-decision-writer", daemon=True)
        self._thread.start()

    # -- producer side -----------------------------------------------------------

    def submit(self, decisions: Sequence[Decision], outbox: Sequence[OutboxItem] = ()) -> None:
        """Queue decisions (and the outbox items they cause) for one atomic write.

        Raises ``TypeError`` at once for evidence or a payload that is not JSON,
        so a bad record fails its producer instead of wedging the queue.
        """
        for d in decisions:
            json.dumps(d.evidence)
        for item in outbox:
            json.dumps(item.payload)
        if decisions or outbox:
            self._put(_Append(decisions=tuple(decisions), outbox=tuple(outbox)))

    def start_call(
        self, call_id: str, *, stream_sid: str | None, caller: str | None,
        started_at: datetime, policy_version: str,
    ) -> None:
        self._put(_CallStart(call_id=call_id, kwargs={
            "stream_sid": stream_sid, "caller": caller, "started_at": started_at, "policy_version": policy_version,
        }))

    def end_call(self, call_id: str, *, ended_at: datetime, outcome: str, summary: dict[str, Any]) -> None:
        json.dumps(summary)
        self._put(_CallEnd(call_id=call_id, kwargs={"ended_at": ended_at, "outcome": outcome, "summary": summary}))

    def _put(self, entry: _Entry) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("DecisionWriter is closed")
            self._queue.append(entry)
            self._queued += entry.size
            self._submitted += 1
            if self._queued > self._capacity:
                self.spilled += entry.size
                if not self._over_capacity:
                    self._over_capacity = True
                    log.warning("decision writer over capacity (%d queued > %d): spilling, not dropping",
                                self._queued, self._capacity)
            self._cond.notify_all()

    @property
    def backlog(self) -> int:
        """Decisions and outbox items accepted but not yet written."""
        with self._cond:
            return self._queued + sum(e.size for e in self._in_flight)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted before this call is written; False on timeout."""
        with self._cond:
            target = self._submitted
            return self._cond.wait_for(lambda: self._written >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write everything left, then stop the thread.

        With a timeout and a store still failing at its end, raises
        ``TimeoutError``; the thread keeps retrying (nothing is discarded) and
        :meth:`unwritten` lists what is still held.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            left = self.backlog
            log.error("decision writer closed with %d records not yet written; still retrying", left)
            raise TimeoutError(f"{left} decisions/outbox items not yet written to the store")

    def unwritten(self) -> list[Decision]:
        """Decisions accepted but not yet written (for a last-resort dump)."""
        with self._cond:
            entries = [*self._in_flight, *self._queue]
        return [d for e in entries if isinstance(e, _Append) for d in e.decisions]

    # -- the thread ---------------------------------------------------------------

    def _take(self) -> list[_Entry] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closing)
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            size = batch[0].size
            # Consecutive appends share a transaction; a call start/end goes alone
            # so its ordering against the decisions around it is kept.
            if isinstance(batch[0], _Append):
                while self._queue and isinstance(self._queue[0], _Append) and size + self._queue[0].size <= self._batch_max:
                    entry = self._queue.popleft()
                    batch.append(entry)
                    size += entry.size
            self._queued -= size
            if self._over_capacity and self._queued <= self._capacity:
                self._over_capacity = False
                log.info("decision writer back under capacity (%d queued)", self._queued)
            self._in_flight = batch
            return batch

    def _write(self, batch: list[_Entry]) -> None:
        match batch[0]:
            case _CallStart(call_id=call_id, kwargs=kw):
                self._store.start_call(call_id, **kw)
            case _CallEnd(call_id=call_id, kwargs=kw):
                self._store.end_call(call_id, **kw)
            case _Append():
                ds = [d for e in batch if isinstance(e, _Append) for d in e.decisions]
                items = [i for e in batch if isinstance(e, _Append) for i in e.outbox]
                self._store.append_with_outbox(ds, items)

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            attempt = 0
            started = time.perf_counter()
            while True:
                try:
                    self._write(batch)
                    break
                except Exception:
                    attempt += 1
                    self.failures += 1
                    delay = min(self._retry_cap_s, self._retry_base_s * 2 ** (attempt - 1))
                    log.exception("store write failed (attempt %d, %d records held); retrying in %.2fs",
                                  attempt, sum(e.size for e in batch), delay)
                    self._sleep(delay)
            if attempt:
                log.warning("store write succeeded after %d failed attempts", attempt)
            if self.observe is not None:
                self.observe(time.perf_counter() - started)
            with self._cond:
                self._in_flight = []
                self._written += len(batch)
                self._cond.notify_all()
