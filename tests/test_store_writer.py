"""DecisionWriter: nothing submitted is lost, whatever the store does."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from turngate.core.decisions import Decision
from turngate.store import OutboxItem, open_store
from turngate.store.writer import DecisionWriter

T0 = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite_file", "sqlite_memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path):
    if request.param == "sqlite_file":
        url = f"sqlite:///{tmp_path / 'calls.db'}"
    elif request.param == "sqlite_memory":
        url = "sqlite://"
    else:
        url = request.getfixturevalue("postgres_url")
    s = open_store(url)
    yield s
    s.close()


def dec(call_id: str, seq: int, **evidence) -> Decision:
    return Decision(call_id=call_id, seq=seq, at_ms=seq * 20, gate="turn", outcome="ok", reason="r",
                    rule="turn.rule", policy_version="p7", evidence=evidence)


class FlakyStore:
    """Wraps a store; its writes fail while ``failures_left`` > 0, or block while ``gate`` is shut."""

    def __init__(self, inner, failures_left: int = 0) -> None:
        self.inner = inner
        self.failures_left = failures_left
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0

    def append_with_outbox(self, decisions, outbox_items):
        self.gate.wait()
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("store went away")
        self.inner.append_with_outbox(decisions, outbox_items)

    def start_call(self, *a, **kw):
        self.inner.start_call(*a, **kw)

    def end_call(self, *a, **kw):
        self.inner.end_call(*a, **kw)


def test_close_writes_everything_submitted(store):
    w = DecisionWriter(store, batch_max=7)
    w.start_call("CA1", stream_sid="MZ1", caller=None, started_at=T0, policy_version="p7")
    for seq in range(1, 301):
        w.submit([dec("CA1", seq, n=seq)])
    w.end_call("CA1", ended_at=T0 + timedelta(seconds=9), outcome="completed", summary={"turns": 4})
    w.close(timeout=30)
    rec = store.get_call("CA1")
    assert [d.seq for d in rec.decisions] == list(range(1, 301))
    assert rec.call.outcome == "completed" and rec.call.stream_sid == "MZ1"
    assert w.backlog == 0


def test_flush_waits_for_earlier_submissions(store):
    w = DecisionWriter(store)
    w.submit([dec("CA1", 1), dec("CA1", 2)], [OutboxItem(key="k", kind="crm_note", call_id="CA1")])
    assert w.flush(timeout=30)
    rec = store.get_call("CA1")
    assert rec.call.decision_count == 2 and [o.key for o in rec.outbox] == ["k"]
    w.close(timeout=30)


def test_transient_store_error_is_retried_with_backoff_and_logged(store, caplog):
    flaky = FlakyStore(store, failures_left=3)
    delays: list[float] = []
    w = DecisionWriter(flaky, retry_base_s=0.5, retry_cap_s=1.5, sleep=delays.append)
    with caplog.at_level(logging.WARNING, logger="turngate.store"):
        w.submit([dec("CA1", 1)])
        w.submit([dec("CA1", 2)])
        w.close(timeout=30)
    assert delays == [0.5, 1.0, 1.5]
    assert store.get_call("CA1").call.decision_count == 2
    assert w.failures == 3
    failures = [r for r in caplog.records if "store write failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info for r in failures)


def test_full_queue_spills_instead_of_blocking_or_dropping(store):
    flaky = FlakyStore(store)
    flaky.gate.clear()  # the store hangs: nothing drains
    w = DecisionWriter(flaky, capacity=10, batch_max=4)
    for seq in range(1, 41):
        w.submit([dec("CA1", seq)])  # returns at once even though nothing is being written
    assert w.spilled > 0
    assert w.backlog == 40
    flaky.gate.set()
    w.close(timeout=30)
    assert store.get_call("CA1").call.decision_count == 40


def test_close_with_a_dead_store_raises_and_keeps_the_records(store):
    flaky = FlakyStore(store, failures_left=10**9)
    gate = threading.Event()
    # The writer's back-off sleeps on an event the test controls, so nothing spins.
    w = DecisionWriter(flaky, sleep=lambda s: gate.wait(0.01))
    w.submit([dec("CA1", 1), dec("CA1", 2)])
    with pytest.raises(TimeoutError, match="2 decisions"):
        w.close(timeout=0.2)
    assert [d.seq for d in w.unwritten()] == [1, 2]
    with pytest.raises(RuntimeError):
        w.submit([dec("CA1", 3)])
    flaky.failures_left = 0  # the store comes back: the held records still land
    assert w.flush(timeout=30)
    assert store.get_call("CA1").call.decision_count == 2


def test_submit_rejects_non_json_evidence_at_once(store):
    w = DecisionWriter(store)
    with pytest.raises(TypeError):
        w.submit([dec("CA1", 1, blob=object())])
    w.close(timeout=30)
    assert store.get_call("CA1") is None
