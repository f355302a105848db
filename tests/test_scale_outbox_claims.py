"""Several delivery workers sharing one store deliver each outbox row exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from turngate.core.decisions import Decision
from turngate.store import open_store
from turngate.store.base import OutboxItem
from turngate.store.outbox import deliver_pending

ROWS = 240


def _fill(store, n: int) -> None:
    d = Decision(call_id="CAclaims", seq=1, at_ms=0, gate="handoff", outcome="transfer", reason="r",
                 rule="x", policy_version="v", evidence={})
    store.append_with_outbox([d], [OutboxItem(key=f"CAclaims:row:{i}", kind="crm_note", call_id="CAclaims",
                                              payload={"i": i}) for i in range(n)])


def _race(stores) -> tuple[Counter, list[int]]:
    """One worker thread per store, each passing over the outbox until nothing is pending."""
    seen: Counter = Counter()
    lock = threading.Lock()
    per_worker = [0] * len(stores)
    start = threading.Barrier(len(stores))

    def worker(i: int, store) -> None:
        def deliver(item) -> None:
            time.sleep(0.001)  # a target that takes a moment, so the workers overlap
            with lock:
                seen[item.key] += 1
                per_worker[i] += 1
        start.wait()
        while store.outbox_pending(1, due_by=datetime.now(UTC)):
            deliver_pending(store, deliver, datetime.now(UTC), limit=10)

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return seen, per_worker


def _check(seen: Counter, per_worker: list[int], store) -> None:
    assert len(seen) == ROWS and set(seen.values()) == {1}, [k for k, v in seen.items() if v != 1][:5]
    assert all(n > 0 for n in per_worker), per_worker  # both really worked
    rec = store.get_call("CAclaims")
    assert {o.status for o in rec.outbox} == {"delivered"}


@pytest.mark.postgres
def test_two_workers_on_postgresql_deliver_each_row_exactly_once(postgres_url):
    a, b = open_store(postgres_url), open_store(postgres_url)  # two engines, as two processes have
    try:
        _fill(a, ROWS)
        seen, per_worker = _race([a, b])
        _check(seen, per_worker, a)
    finally:
        a.close(), b.close()


def test_two_workers_on_sqlite_deliver_each_row_exactly_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    a, b = open_store(url), open_store(url)
    try:
        _fill(a, ROWS)
        seen, per_worker = _race([a, b])
        _check(seen, per_worker, a)
    finally:
        a.close(), b.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_claim_hides_rows_until_its_lease_runs_out(backend, tmp_path, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else f"sqlite:///{tmp_path / 'o.db'}"
    store = open_store(url)
    try:
        _fill(store, 3)
        now = datetime.now(UTC)
        first = store.outbox_claim(10, due_by=now, lease_s=60)
        assert len(first) == 3 and all(r.next_attempt_at is None for r in first)
        assert store.outbox_claim(10, due_by=now + timedelta(seconds=30), lease_s=60) == []
        # the claimer died: after the lease, another worker takes the rows
        assert len(store.outbox_claim(10, due_by=now + timedelta(seconds=61), lease_s=60)) == 3
    finally:
        store.close()
