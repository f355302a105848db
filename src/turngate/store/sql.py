"""The store in SQL (SQLAlchemy Core): SQLite by default, PostgreSQL when configured.

One schema serves both. Differences are kept to three places: the upsert
dialect (both speak ``INSERT ... ON CONFLICT``), JSON (``JSONB`` on PostgreSQL),
and connection set-up (WAL and a busy timeout on SQLite; pre-ping and a connect
timeout on PostgreSQL). Timestamps are stored in UTC; SQLite keeps them as
ISO-like text, which sorts and compares correctly because every value is UTC.

Idempotency is the schema's job, not the caller's: decisions are keyed by
``(call_id, seq)`` and outbox rows by their key, and every insert is
``ON CONFLICT DO NOTHING``, so a writer that retries a batch after a lost
acknowledgement writes nothing twice.

Decisions may arrive before ``start_call`` (the writer thread and the shell are
not ordered): each write first inserts a stub ``calls`` row if none exists, and
``start_call`` fills it in. That keeps the foreign keys honest without making
the shell order its writes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from ..core.decisions import Decision
from ..errors import ConfigError
from .base import CallRecord, CallSummary, OutboxItem, OutboxRecord, PendingDelivery

__all__ = ["DEFAULT_URL", "SCHEMA_VERSION", "SqlStore", "open_store", "normalize_url"]

DEFAULT_URL = "sqlite:///turngate.db"
SCHEMA_VERSION = 1
# Serializes schema creation when several gateway processes start against one PostgreSQL.
_SCHEMA_LOCK_KEY = 0x74676174  # "tgat"

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", _TS, nullable=False),
)

calls = sa.Table(
    "calls", metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("stream_sid", sa.Text),
    sa.Column("caller", sa.Text),
    sa.Column("started_at", _TS),
    sa.Column("ended_at", _TS),
    sa.Column("outcome", sa.Text),
    sa.Column("policy_version", sa.Text),
    sa.Column("summary", _JSON),
)
sa.Index("calls_started_at", calls.c.started_at)

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("gate", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("evidence", _JSON, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("call_id", sa.Text, sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payload", _JSON, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("next_attempt_at", _TS),
    sa.Column("delivered_at", _TS),
    sa.Column("last_error", sa.Text),
)
sa.Index("outbox_due", outbox.c.status, outbox.c.next_attempt_at)
sa.Index("outbox_call", outbox.c.call_id)


def normalize_url(url: str) -> URL:
    """Map a user's store URL onto the driver turngate uses; reject the rest."""
    try:
        u = make_url(url)
    except sa.exc.ArgumentError as e:
        raise ConfigError(f"store URL {url!r} is not a URL: use sqlite:///path or postgresql://...") from e
    backend, _, driver = u.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigError(f"store URL driver {driver!r} is not supported: use postgresql:// (psycopg 3)")
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigError(f"store URL driver {driver!r} is not supported: use sqlite:///path")
        return u.set(drivername="sqlite")
    raise ConfigError(f"store URL scheme {u.drivername!r} is not supported: use sqlite:///path or postgresql://...")


def open_store(url: str | None = None) -> SqlStore:
    """Open (and create if needed) the store at ``url`` (``Config.store``); None means
    ``sqlite:///turngate.db`` relative to the working directory. ``sqlite://`` is an
    in-memory store."""
    return SqlStore(url or DEFAULT_URL)


def _utc(value: datetime) -> datetime:
    # A naive datetime is taken as UTC, by contract (see base.py).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


class SqlStore:
    """:class:`~turngate.store.base.Store` over SQLAlchemy Core.

    Thread safety: the engine's pool hands each thread its own connection on
    PostgreSQL. SQLite allows one writer at a time anyway, and an in-memory
    database is a single shared connection, so on SQLite every operation holds
    one process-wide lock; other processes are held off by WAL and the busy
    timeout.
    """

    def __init__(self, url: str) -> None:
        self._url = normalize_url(url)
        self.is_postgres = self._url.drivername.startswith("postgresql")
        self._engine = self._make_engine(self._url)
        self._lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if self.is_postgres else threading.RLock()
        )
        self._insert = pg_insert if self.is_postgres else sqlite_insert
        try:
            self._create_schema()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self._url.render_as_string(hide_password=True)

    @staticmethod
    def _make_engine(url: URL) -> Engine:
        if url.drivername.startswith("postgresql"):
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = 5
            return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        memory = url.database in (None, "", ":memory:")
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 5.0},
            **({"poolclass": StaticPool} if memory else {}),
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets `calls list` read while a gateway writes; NORMAL sync in WAL
            # survives a process crash (the outbox promise), not a power cut.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine

    def _create_schema(self) -> None:
        with self._lock, self._engine.begin() as conn:
            if self.is_postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            if found is None:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC)))
            elif found > SCHEMA_VERSION:
                raise ConfigError(
                    f"store {self.url} has schema version {found}; this turngate knows up to {SCHEMA_VERSION}"
                )

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._lock, self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock, self._engine.connect() as conn:
            yield conn

    # -- calls -------------------------------------------------------------

    def start_call(
        self, call_id: str, *, stream_sid: str | None, caller: str | None,
        started_at: datetime, policy_version: str,
    ) -> None:
        values = {
            "stream_sid": stream_sid, "caller": caller,
            "started_at": _utc(started_at), "policy_version": policy_version,
        }
        stmt = self._insert(calls).values(call_id=call_id, **values)
        with self._tx() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["call_id"], set_=values))

    def end_call(self, call_id: str, *, ended_at: datetime, outcome: str, summary: dict[str, Any]) -> None:
        values = {"ended_at": _utc(ended_at), "outcome": outcome, "summary": summary}
        stmt = self._insert(calls).values(call_id=call_id, **values)
        with self._tx() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["call_id"], set_=values))

    def end_unfinished(self, *, ended_at: datetime, outcome: str, summary: dict[str, Any]) -> list[str]:
        """End every call that has no end yet; returns their ids. Only for a store that one
        process owns (a restarted single gateway on SQLite): its earlier calls are over."""
        with self._tx() as conn:
            ids = [r.call_id for r in conn.execute(sa.select(calls.c.call_id).where(calls.c.ended_at.is_(None)))]
            if ids:
                conn.execute(calls.update().where(calls.c.call_id.in_(ids))
                             .values(ended_at=_utc(ended_at), outcome=outcome, summary=summary))
        return ids

    # -- decisions and outbox ------------------------------------------------

    def append(self, decisions: Sequence[Decision]) -> None:
        self.append_with_outbox(decisions, ())

    def append_with_outbox(self, decisions: Sequence[Decision], outbox_items: Sequence[OutboxItem]) -> None:
        if not decisions and not outbox_items:
            return
        with self._tx() as conn:
            self._write(conn, decisions, outbox_items)

    def _write(self, conn: Connection, ds: Sequence[Decision], items: Sequence[OutboxItem]) -> None:
        stubs: dict[str, str | None] = {}
        for d in ds:
            stubs.setdefault(d.call_id, d.policy_version)
        for item in items:
            stubs.setdefault(item.call_id, None)
        conn.execute(
            self._insert(calls).on_conflict_do_nothing(index_elements=["call_id"]),
            [{"call_id": c, "policy_version": pv} for c, pv in stubs.items()],
        )
        if ds:
            conn.execute(
                self._insert(decisions).on_conflict_do_nothing(index_elements=["call_id", "seq"]),
                [
                    {
                        "call_id": d.call_id, "seq": d.seq, "at_ms": d.at_ms, "gate": d.gate,
                        "outcome": d.outcome, "reason": d.reason, "rule": d.rule,
                        "policy_version": d.policy_version, "evidence": d.evidence,
                    }
                    for d in ds
                ],
            )
        if items:
            now = datetime.now(UTC)
            conn.execute(
                self._insert(outbox).on_conflict_do_nothing(index_elements=["key"]),
                [
                    {
                        "key": i.key, "call_id": i.call_id, "kind": i.kind, "payload": i.payload,
                        "status": "pending", "attempts": 0, "created_at": now,
                        "next_attempt_at": None, "delivered_at": None, "last_error": None,
                    }
                    for i in items
                ],
            )

    # -- review ----------------------------------------------------------------

    def _summaries(self) -> sa.Select[Any]:
        counts = (
            sa.select(decisions.c.call_id, sa.func.count().label("n"))
            .group_by(decisions.c.call_id)
            .subquery()
        )
        return sa.select(calls, sa.func.coalesce(counts.c.n, 0).label("decision_count")).outerjoin(
            counts, counts.c.call_id == calls.c.call_id
        )

    @staticmethod
    def _summary(row: Any) -> CallSummary:
        return CallSummary(
            call_id=row.call_id, stream_sid=row.stream_sid, caller=row.caller,
            started_at=_utc_or_none(row.started_at), ended_at=_utc_or_none(row.ended_at),
            outcome=row.outcome, policy_version=row.policy_version, decision_count=int(row.decision_count),
        )

    def list_calls(self, limit: int = 50) -> list[CallSummary]:
        q = self._summaries().order_by(calls.c.started_at.desc().nulls_last(), calls.c.call_id).limit(limit)
        with self._read() as conn:
            return [self._summary(r) for r in conn.execute(q)]

    def get_call(self, call_id: str) -> CallRecord | None:
        with self._read() as conn:
            row = conn.execute(self._summaries().where(calls.c.call_id == call_id)).first()
            if row is None:
                return None
            ds = conn.execute(
                sa.select(decisions).where(decisions.c.call_id == call_id).order_by(decisions.c.seq)
            ).all()
            obs = conn.execute(
                sa.select(outbox).where(outbox.c.call_id == call_id).order_by(outbox.c.created_at, outbox.c.key)
            ).all()
        return CallRecord(
            call=self._summary(row),
            summary=dict(row.summary or {}),
            decisions=tuple(
                Decision(
                    call_id=d.call_id, seq=d.seq, at_ms=d.at_ms, gate=d.gate, outcome=d.outcome,
                    reason=d.reason, rule=d.rule, policy_version=d.policy_version, evidence=dict(d.evidence),
                )
                for d in ds
            ),
            outbox=tuple(
                OutboxRecord(
                    key=o.key, kind=o.kind, call_id=o.call_id, payload=dict(o.payload), status=o.status,
                    attempts=o.attempts, created_at=_utc(o.created_at),
                    delivered_at=_utc_or_none(o.delivered_at), last_error=o.last_error,
                )
                for o in obs
            ),
        )

    def find_calls(
        self, *, limit: int = 50, offset: int = 0, outcome: str | None = None, route: str | None = None,
        handoff: str | None = None, fallback: str | None = None, guard: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
    ) -> list[CallSummary]:
        """Calls newest first, filtered for review. ``route``: the call's last route;
        ``handoff``: ``yes``, ``no`` or a handoff reason; ``fallback``: ``yes``/``no``;
        ``guard``: some guard decision had that outcome; ``since``/``until`` bound the start."""

        def has(*conds: Any) -> Any:
            return sa.exists().where(decisions.c.call_id == calls.c.call_id, *conds)

        q = self._summaries()
        if outcome:
            q = q.where(calls.c.outcome == outcome)
        if route:  # the route the call was last held on
            last = (sa.select(decisions.c.rule).where(decisions.c.call_id == calls.c.call_id, decisions.c.gate == "route")
                    .order_by(decisions.c.seq.desc()).limit(1).scalar_subquery())
            q = q.where(last == f"route.{route}")
        if handoff:
            handed = (decisions.c.gate == "handoff", decisions.c.outcome == "handoff")
            q = q.where(~has(*handed) if handoff == "no" else
                        has(*handed) if handoff == "yes" else has(*handed, decisions.c.reason == handoff))
        if fallback:
            fb = has(decisions.c.gate == "model", decisions.c.outcome.like("fallback%"))
            q = q.where(fb if fallback == "yes" else ~fb)
        if guard:
            q = q.where(has(decisions.c.gate == "guard", decisions.c.outcome == guard))
        if since is not None:
            q = q.where(calls.c.started_at >= _utc(since))
        if until is not None:
            q = q.where(calls.c.started_at < _utc(until))
        q = q.order_by(calls.c.started_at.desc().nulls_last(), calls.c.call_id).limit(limit).offset(offset)
        with self._read() as conn:
            return [self._summary(r) for r in conn.execute(q)]

    def facets(self) -> dict[str, list[str]]:
        """The values the review filters can take, from what the log holds."""
        def distinct(col: Any, *conds: Any) -> sa.Select[Any]:
            return sa.select(col).where(*conds).distinct().order_by(col)

        with self._read() as conn:
            rules = conn.execute(distinct(decisions.c.rule, decisions.c.gate == "route")).scalars().all()
            return {
                "route": [r.removeprefix("route.") for r in rules],
                "outcome": [o for o in conn.execute(distinct(calls.c.outcome)).scalars().all() if o],
                "guard": list(conn.execute(distinct(decisions.c.outcome, decisions.c.gate == "guard")).scalars()),
                "handoff": list(conn.execute(distinct(decisions.c.reason, decisions.c.gate == "handoff",
                                                      decisions.c.outcome == "handoff")).scalars()),
            }

    # -- outbox delivery ---------------------------------------------------------

    def outbox_pending(self, limit: int = 100, *, due_by: datetime | None = None) -> list[PendingDelivery]:
        q = sa.select(outbox).where(outbox.c.status == "pending")
        if due_by is not None:
            q = q.where(sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= _utc(due_by)))
        q = q.order_by(outbox.c.created_at, outbox.c.key).limit(limit)
        with self._read() as conn:
            rows = conn.execute(q).all()
        return [
            PendingDelivery(
                key=o.key, kind=o.kind, call_id=o.call_id, payload=dict(o.payload), attempts=o.attempts,
                created_at=_utc(o.created_at), next_attempt_at=_utc_or_none(o.next_attempt_at),
                last_error=o.last_error,
            )
            for o in rows
        ]

    def outbox_claim(self, limit: int, *, due_by: datetime, lease_s: float = 60.0) -> list[PendingDelivery]:
        """Claim up to ``limit`` rows due by ``due_by`` for this worker alone.

        A claimed row's ``next_attempt_at`` moves ``lease_s`` ahead, so no other
        worker sees it as due; delivering it (or recording its failure) ends the
        claim, and a worker that dies holding it loses it when the lease runs out.
        On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so
        concurrent workers take disjoint rows without waiting on each other; on
        SQLite each claim is a compare-and-set on ``next_attempt_at``. The rows come
        back as they were before the claim (their real ``next_attempt_at``)."""
        due = _utc(due_by)
        lease_until = due + timedelta(seconds=lease_s)
        is_due = sa.and_(outbox.c.status == "pending",
                         sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= due))
        q = sa.select(outbox).where(is_due).order_by(outbox.c.created_at, outbox.c.key).limit(limit)
        claimed = []
        with self._tx() as conn:
            if self.is_postgres:
                rows = conn.execute(q.with_for_update(skip_locked=True)).all()
                if rows:
                    conn.execute(outbox.update().where(outbox.c.key.in_([r.key for r in rows]))
                                 .values(next_attempt_at=lease_until))
                claimed = rows
            else:
                for r in conn.execute(q).all():
                    res = conn.execute(outbox.update().where(outbox.c.key == r.key, is_due)
                                       .values(next_attempt_at=lease_until))
                    if res.rowcount == 1:
                        claimed.append(r)
        return [
            PendingDelivery(
                key=o.key, kind=o.kind, call_id=o.call_id, payload=dict(o.payload), attempts=o.attempts,
                created_at=_utc(o.created_at), next_attempt_at=_utc_or_none(o.next_attempt_at),
                last_error=o.last_error,
            )
            for o in claimed
        ]

    def _update_pending(self, key: str, **values: Any) -> None:
        # Only a pending row changes: marking a delivered row failed (a late
        # duplicate report) must not resurrect it.
        with self._tx() as conn:
            conn.execute(
                outbox.update().where(outbox.c.key == key, outbox.c.status == "pending").values(**values)
            )

    def outbox_mark_delivered(self, key: str) -> None:
        self._update_pending(key, status="delivered", delivered_at=datetime.now(UTC))

    def outbox_mark_failed(self, key: str, error: str, next_attempt_at: datetime) -> None:
        self._update_pending(
            key, attempts=outbox.c.attempts + 1, last_error=error, next_attempt_at=_utc(next_attempt_at)
        )

    def outbox_give_up(self, key: str, error: str) -> None:
        self._update_pending(key, status="gave_up", last_error=error)

    def ping(self) -> None:
        """Raise unless the database answers a trivial query (for ``/readyz``)."""
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._engine.dispose()
