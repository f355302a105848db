"""The store: round trips, idempotency and the outbox transaction, on every backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from turngate.core.decisions import Decision
from turngate.errors import ConfigError
from turngate.store import OutboxItem, Store, open_store
from turngate.store.sql import normalize_url

T0 = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite_file", "sqlite_memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'calls.db'}"
    if request.param == "sqlite_memory":
        return "sqlite://"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str):
    s = open_store(store_url)
    yield s
    s.close()


def dec(call_id: str, seq: int, gate: str = "route", outcome: str = "faq", **evidence) -> Decision:
    return Decision(call_id=call_id, seq=seq, at_ms=seq * 120, gate=gate, outcome=outcome,
                    reason=f"{gate}_reason_{seq}", rule=f"{gate}.rule", policy_version="p7", evidence=evidence)


def test_store_satisfies_the_protocol(store):
    assert isinstance(store, Store)


def test_call_round_trip_keeps_metadata_decisions_and_summary(store):
    store.start_call("CA1", stream_sid="MZ1", caller="+15550100", started_at=T0, policy_version="p7")
    ds = [dec("CA1", 3, "guard", "redact", entities=["card_number"], spans=[[4, 20]]),
          dec("CA1", 1, confidence=0.91, scores={"faq": 0.91, "refund": 0.04}),
          dec("CA1", 2, "model", "fallback", ttft_ms=1800, profile="low_latency")]
    store.append(ds)
    store.end_call("CA1", ended_at=T0 + timedelta(seconds=42.5), outcome="handoff",
                   summary={"turns": 3, "transcript": ["hi", "my card is [CARD]"], "context": {"route": "faq"}})

    rec = store.get_call("CA1")
    assert rec is not None
    assert [d.seq for d in rec.decisions] == [1, 2, 3]
    assert list(rec.decisions) == sorted(ds, key=lambda d: d.seq)
    assert rec.call.stream_sid == "MZ1" and rec.call.caller == "+15550100"
    assert rec.call.started_at == T0 and rec.call.duration_s == 42.5
    assert rec.call.outcome == "handoff" and rec.call.decision_count == 3
    assert rec.summary["transcript"] == ["hi", "my card is [CARD]"]
    assert rec.to_dict()["call"]["started_at"] == "2026-01-05T09:30:00+00:00"


def test_list_calls_is_newest_first_with_counts_and_limit(store):
    for i in range(3):
        store.start_call(f"CA{i}", stream_sid=None, caller=None, started_at=T0 + timedelta(minutes=i),
                         policy_version="p7")
        store.append([dec(f"CA{i}", s) for s in range(1, i + 2)])
    calls = store.list_calls(limit=2)
    assert [c.call_id for c in calls] == ["CA2", "CA1"]
    assert [c.decision_count for c in calls] == [3, 2]
    assert calls[0].ended_at is None and calls[0].duration_s is None


def test_naive_datetimes_are_taken_as_utc(store):
    store.start_call("CA1", stream_sid=None, caller=None, started_at=datetime(2026, 1, 5, 9, 30),
                     policy_version="p7")
    assert store.get_call("CA1").call.started_at == T0


def test_duplicate_append_is_idempotent_and_first_write_wins(store):
    store.append([dec("CA1", 1), dec("CA1", 2)])
    store.append([dec("CA1", 1), dec("CA1", 2)])
    store.append([dec("CA1", 2, outcome="refund"), dec("CA1", 3)])
    rec = store.get_call("CA1")
    assert [(d.seq, d.outcome) for d in rec.decisions] == [(1, "faq"), (2, "faq"), (3, "faq")]


def test_decisions_before_start_call_make_a_stub_that_start_fills_in(store):
    store.append([dec("CA9", 1)])
    stub = store.get_call("CA9")
    assert stub.call.started_at is None and stub.call.policy_version == "p7"
    store.start_call("CA9", stream_sid="MZ9", caller=None, started_at=T0, policy_version="p7")
    rec = store.get_call("CA9")
    assert rec.call.stream_sid == "MZ9" and rec.call.decision_count == 1


def test_unknown_call_is_none(store):
    assert store.get_call("nope") is None


def test_decisions_and_outbox_rows_commit_together(store):
    handoff = dec("CA1", 5, "handoff", "transfer")
    note = OutboxItem(key="CA1:crm_note:5", kind="crm_note", call_id="CA1",
                      payload={"reason": handoff.reason, "decision_seq": 5, "note": "wants refund"})
    store.append_with_outbox([handoff], [note])
    store.append_with_outbox([handoff], [note])  # a retried batch: still one of each
    rec = store.get_call("CA1")
    assert [d.seq for d in rec.decisions] == [5]
    assert [(o.key, o.status, o.payload["decision_seq"]) for o in rec.outbox] == [("CA1:crm_note:5", "pending", 5)]


def test_failure_mid_transaction_writes_neither_decision_nor_outbox_row(store):
    statements: list[str] = []
    engine = store._engine  # white-box: prove the decision INSERT ran before the failure
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cur, stmt, *a: statements.append(stmt.split("(")[0].strip()))
    bad = OutboxItem(key="k1", kind="follow_up", call_id="CA1", payload={"evidence": object()})
    with pytest.raises((TypeError, sa.exc.StatementError)):
        store.append_with_outbox([dec("CA1", 1, "handoff", "transfer")], [bad])
    assert any("INSERT INTO decisions" in s for s in statements)
    assert store.get_call("CA1") is None
    assert store.outbox_pending() == []
    # and the store is still usable afterwards
    store.append_with_outbox([dec("CA1", 1)], [OutboxItem(key="k1", kind="follow_up", call_id="CA1")])
    assert store.get_call("CA1").call.decision_count == 1


def test_outbox_row_lifecycle(store):
    store.append_with_outbox([dec("CA1", 1)], [
        OutboxItem(key="a", kind="crm_note", call_id="CA1", payload={"reason": "x"}),
        OutboxItem(key="b", kind="follow_up", call_id="CA1", payload={"evidence": {"re_asks": 3}}),
    ])
    assert {p.key for p in store.outbox_pending()} == {"a", "b"}
    store.outbox_mark_failed("a", "HTTPError: 503", T0 + timedelta(seconds=30))
    assert [p.key for p in store.outbox_pending(due_by=T0)] == ["b"]
    [a] = [p for p in store.outbox_pending(due_by=T0 + timedelta(seconds=30)) if p.key == "a"]
    assert a.attempts == 1 and a.last_error == "HTTPError: 503" and a.next_attempt_at == T0 + timedelta(seconds=30)
    store.outbox_mark_delivered("a")
    store.outbox_mark_failed("a", "late duplicate report", T0)  # must not resurrect a delivered row
    store.outbox_give_up("b", "gave up after 12 attempts")
    assert store.outbox_pending() == []
    statuses = {o.key: (o.status, o.attempts) for o in store.get_call("CA1").outbox}
    assert statuses == {"a": ("delivered", 1), "b": ("gave_up", 0)}
    assert store.get_call("CA1").outbox[0].delivered_at is not None


def test_concurrent_appends_from_threads_all_land(store):
    def worker(n: int) -> None:
        for batch in range(10):
            store.append([dec(f"CA{n}", batch * 5 + i) for i in range(5)])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.decision_count for c in store.list_calls()) == [50, 50, 50, 50]


def test_reopening_keeps_data_and_creates_schema_once(store_url):
    if store_url == "sqlite://":
        pytest.skip("an in-memory store does not outlive its engine")
    s = open_store(store_url)
    s.append([dec("CA1", 1)])
    s.close()
    s = open_store(store_url)
    try:
        assert s.get_call("CA1").call.decision_count == 1
        with s._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == 1
    finally:
        s.close()


def test_a_newer_schema_is_refused(store_url):
    if store_url == "sqlite://":
        pytest.skip("an in-memory store does not outlive its engine")
    s = open_store(store_url)
    with s._engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (99, :t)"), {"t": T0})
    s.close()
    with pytest.raises(ConfigError, match="schema version 99"):
        open_store(store_url)


def test_sqlite_file_store_runs_in_wal_mode(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with s._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        s.close()


def test_store_url_comes_from_argument_then_config_then_default(tmp_path, monkeypatch):
    from turngate.config import Config

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TURNGATE_STORE", raising=False)
    open_store().close()
    assert (tmp_path / "turngate.db").exists()
    monkeypatch.setenv("TURNGATE_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    open_store(Config.from_env().store).close()  # the environment reaches the store through Config only
    assert (tmp_path / "env.db").exists()
    open_store(f"sqlite:///{tmp_path / 'arg.db'}").close()
    assert (tmp_path / "arg.db").exists()


def test_store_urls_map_to_supported_drivers():
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    for bad in ("mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url"):
        with pytest.raises(ConfigError):
            normalize_url(bad)
