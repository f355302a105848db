"""The store: decision log, calls and the delivery outbox.

``open_store(url)`` gives a :class:`Store` (SQLite by default, PostgreSQL when
configured); the asyncio shell writes through :class:`DecisionWriter`, and
:func:`~turngate.store.outbox.deliver_pending` drains the outbox.
"""

from .base import CallRecord, CallSummary, OutboxItem, OutboxRecord, PendingDelivery, Store
from .sql import DEFAULT_URL, SqlStore, open_store

__all__ = [
    "CallRecord", "CallSummary", "OutboxItem", "OutboxRecord", "PendingDelivery", "Store",
    "DEFAULT_URL", "SqlStore", "open_store",
]
