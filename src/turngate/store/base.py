"""What the store holds and the narrow interface the rest of turngate sees.

Three kinds of rows live in the store:

- a **call**: its stream, caller, start and end, final outcome and a summary
  (turn count, redacted transcript, context) written once at the end;
- its **decisions**: one :class:`~turngate.core.decisions.Decision` per gate per
  decision, keyed by ``(call_id, seq)``, so writing the same record twice is a
  no-op rather than a duplicate or an error (a writer retrying after a lost
  acknowledgement must be safe);
- the **outbox**: deliveries owed to the outside world (CRM note, follow-up
  task, Twilio transfer), each keyed by an idempotency key and written in the
  same transaction as the decision that caused it, so a crash can lose neither
  one without the other.

Everything here is plain data; the SQL lives in :mod:`turngate.store.sql`.
Datetimes crossing this interface are timezone-aware UTC; a naive datetime
given to the store is taken to be UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from ..core.decisions import Decision

__all__ = [
    "OutboxKind", "OutboxStatus", "OutboxItem", "PendingDelivery", "OutboxRecord",
    "CallSummary", "CallRecord", "Store",
]

# Known kinds today; the column is free text so a new delivery target needs no migration.
OutboxKind = Literal["crm_note", "follow_up", "transfer"]
OutboxStatus = Literal["pending", "delivered", "gave_up"]

_dc = dataclass(frozen=True, slots=True, kw_only=True)


@_dc
class OutboxItem:
    """A delivery to enqueue. ``key`` is the idempotency key: the store keeps the
    first item written under a key, and delivery targets dedupe on it."""

    key: str
    kind: str
    call_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@_dc
class PendingDelivery:
    """An outbox row still owed, as the delivery driver sees it."""

    key: str
    kind: str
    call_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None


@_dc
class OutboxRecord:
    """An outbox row in any state, as call review sees it."""

    key: str
    kind: str
    call_id: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "kind": self.kind, "call_id": self.call_id, "payload": self.payload,
            "status": self.status, "attempts": self.attempts,
            "created_at": _iso(self.created_at), "delivered_at": _iso(self.delivered_at),
            "last_error": self.last_error,
        }


@_dc
class CallSummary:
    """One line of ``calls list``. ``started_at`` is None for a call whose
    decisions arrived but whose ``start_call`` never did (a crashed shell)."""

    call_id: str
    stream_sid: str | None
    caller: str | None
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    policy_version: str | None
    decision_count: int

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "stream_sid": self.stream_sid, "caller": self.caller,
            "started_at": _iso(self.started_at), "ended_at": _iso(self.ended_at),
            "duration_s": self.duration_s, "outcome": self.outcome,
            "policy_version": self.policy_version, "decision_count": self.decision_count,
        }


@_dc
class CallRecord:
    """A call with everything the store knows about it: decisions in ``seq``
    order and outbox rows in the order they were written."""

    call: CallSummary
    summary: dict[str, Any]
    decisions: tuple[Decision, ...]
    outbox: tuple[OutboxRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": {**self.call.to_dict(), "summary": self.summary},
            "decisions": [d.to_dict() for d in self.decisions],
            "outbox": [o.to_dict() for o in self.outbox],
        }


@runtime_checkable
class Store(Protocol):
    """The decision log, calls and outbox. Implementations are synchronous and
    safe to call from several threads; the asyncio shell reaches the store only
    through :class:`turngate.store.writer.DecisionWriter` or a worker thread."""

    def start_call(
        self, call_id: str, *, stream_sid: str | None, caller: str | None,
        started_at: datetime, policy_version: str,
    ) -> None:
        """Record a call's start; calling it again updates the metadata."""

    def append(self, decisions: Sequence[Decision]) -> None:
        """Write decisions in one transaction. A ``(call_id, seq)`` already
        stored is skipped: the first write wins."""

    def append_with_outbox(self, decisions: Sequence[Decision], outbox_items: Sequence[OutboxItem]) -> None:
        """Write decisions and outbox rows in one transaction: all or nothing.
        An outbox key already stored is skipped."""

    def end_call(self, call_id: str, *, ended_at: datetime, outcome: str, summary: dict[str, Any]) -> None:
        """Record a call's end, outcome and (already redacted) summary."""

    def list_calls(self, limit: int = 50) -> list[CallSummary]:
        """Most recent calls first."""

    def get_call(self, call_id: str) -> CallRecord | None:
        """The call, its decisions in ``seq`` order and its outbox rows; None
        when the store has never heard of ``call_id``."""

    def outbox_pending(self, limit: int = 100, *, due_by: datetime | None = None) -> list[PendingDelivery]:
        """Undelivered rows, oldest first; with ``due_by``, only those whose
        next attempt is due by then."""

    def outbox_mark_delivered(self, key: str) -> None: ...

    def outbox_mark_failed(self, key: str, error: str, next_attempt_at: datetime) -> None:
        """Count one failed attempt and schedule the next."""

    def outbox_give_up(self, key: str, error: str) -> None:
        """Stop retrying: the row stays, marked ``gave_up``, for an operator."""

    def close(self) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
