"""Outbox delivery: the retry policy on a fake clock, and the driver against real stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from turngate.core.decisions import Decision
from turngate.store import OutboxItem, PendingDelivery, open_store
from turngate.store.outbox import (
    DeliveryReport, DoDeliver, DoWait, GiveUp, JsonlDelivery, RetryPolicy, deliver_pending,
)

T0 = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)


def pending(attempts: int = 0, next_attempt_at: datetime | None = None, key: str = "k") -> PendingDelivery:
    return PendingDelivery(key=key, kind="crm_note", call_id="CA1", payload={}, attempts=attempts,
                           created_at=T0, next_attempt_at=next_attempt_at, last_error=None)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# -- policy (pure) ---------------------------------------------------------------


def test_backoff_doubles_until_the_cap_without_jitter():
    p = RetryPolicy(base_s=1, factor=2, cap_s=10, jitter=0)
    assert [p.delay(n).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_spreads_within_bounds_and_never_passes_the_cap():
    lo = RetryPolicy(base_s=4, cap_s=100, jitter=0.25, rng=lambda: 0.0)
    hi = RetryPolicy(base_s=4, cap_s=100, jitter=0.25, rng=lambda: 0.999999)
    assert lo.delay(1) == s(3.0)
    assert hi.delay(1) == pytest.approx(s(5.0), abs=s(0.001))
    capped = RetryPolicy(base_s=4, cap_s=10, jitter=0.25, rng=lambda: 0.999999)
    assert capped.delay(5) == s(10)


def test_seeded_rng_makes_the_schedule_reproducible():
    import random

    a = RetryPolicy(rng=random.Random(7).random)
    b = RetryPolicy(rng=random.Random(7).random)
    assert [a.delay(n) for n in range(1, 6)] == [b.delay(n) for n in range(1, 6)]


def test_next_step_delivers_when_due_waits_when_not_and_gives_up_at_the_limit():
    p = RetryPolicy(max_attempts=3)
    assert p.next_step(pending(), T0) == DoDeliver()
    assert p.next_step(pending(1, T0 + s(5)), T0) == DoWait(until=T0 + s(5))
    assert p.next_step(pending(1, T0 + s(5)), T0 + s(5)) == DoDeliver()
    assert isinstance(p.next_step(pending(3), T0), GiveUp)


def test_after_failure_schedules_the_next_attempt_or_gives_up():
    p = RetryPolicy(base_s=2, factor=3, cap_s=60, jitter=0, max_attempts=3)
    assert p.after_failure(pending(0), T0) == DoWait(until=T0 + s(2))
    assert p.after_failure(pending(1), T0) == DoWait(until=T0 + s(6))
    assert p.after_failure(pending(2), T0) == GiveUp(reason="gave up after 3 attempts")


# -- driver over a store, stepping a fake clock -------------------------------------


@pytest.fixture(params=["sqlite_memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest):
    url = "sqlite://" if request.param == "sqlite_memory" else request.getfixturevalue("postgres_url")
    st = open_store(url)
    yield st
    st.close()


def handoff(call_id: str = "CA1") -> Decision:
    return Decision(call_id=call_id, seq=9, at_ms=30_000, gate="handoff", outcome="transfer",
                    reason="explicit_request", rule="handoff.explicit", policy_version="p7", evidence={})


class FlakyTarget:
    def __init__(self, fail_times: int) -> None:
        self.fail_times = fail_times
        self.seen: list[str] = []

    def __call__(self, item: PendingDelivery) -> None:
        self.seen.append(item.key)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("crm 503")


def test_driver_retries_on_the_policy_schedule_then_delivers(store):
    store.append_with_outbox([handoff()], [OutboxItem(key="CA1:crm", kind="crm_note", call_id="CA1",
                                                      payload={"reason": "explicit_request"})])
    target = FlakyTarget(fail_times=2)
    policy = RetryPolicy(base_s=10, factor=2, jitter=0, max_attempts=5)

    assert deliver_pending(store, target, T0, policy=policy) == DeliveryReport(failed=1)
    [row] = store.outbox_pending()
    assert row.attempts == 1 and row.next_attempt_at == T0 + s(10) and row.last_error == "ConnectionError: crm 503"

    assert deliver_pending(store, target, T0 + s(9.9), policy=policy) == DeliveryReport()  # not due yet
    assert deliver_pending(store, target, T0 + s(10), policy=policy) == DeliveryReport(failed=1)
    assert store.outbox_pending()[0].next_attempt_at == T0 + s(30)
    assert deliver_pending(store, target, T0 + s(30), policy=policy) == DeliveryReport(delivered=1)
    assert store.outbox_pending() == []
    assert target.seen == ["CA1:crm"] * 3
    assert deliver_pending(store, target, T0 + s(999), policy=policy) == DeliveryReport()


def test_driver_gives_up_after_max_attempts_and_keeps_the_row(store):
    store.append_with_outbox([handoff()], [OutboxItem(key="k", kind="follow_up", call_id="CA1")])
    target = FlakyTarget(fail_times=100)
    policy = RetryPolicy(base_s=1, factor=1, jitter=0, max_attempts=3)
    now = T0
    reports = []
    for _ in range(5):
        reports.append(deliver_pending(store, target, now, policy=policy))
        now += s(1)
    assert [r.gave_up for r in reports] == [0, 0, 1, 0, 0]
    assert len(target.seen) == 3
    [row] = store.get_call("CA1").outbox
    assert row.status == "gave_up" and row.attempts == 3 and "crm 503" in row.last_error


def test_jsonl_target_is_idempotent_by_key_across_a_crash(store, tmp_path):
    path = tmp_path / "crm.jsonl"
    store.append_with_outbox([handoff()], [
        OutboxItem(key="CA1:crm", kind="crm_note", call_id="CA1", payload={"reason": "explicit_request"}),
        OutboxItem(key="CA1:fu", kind="follow_up", call_id="CA1", payload={"evidence": {"re_asks": 3}}),
    ])
    # A process delivers but dies before marking delivered: the rows stay pending.
    first = JsonlDelivery(path)
    for item in store.outbox_pending():
        first(item)
    with path.open("a") as f:
        f.write('{"key": "torn')  # and it died mid-way through another line
    # The next process delivers them again; the file still holds each key once.
    report = deliver_pending(store, JsonlDelivery(path), T0)
    assert report == DeliveryReport(delivered=2)
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    assert sorted(r["key"] for r in rows) == ["CA1:crm", "CA1:fu"]
    assert store.outbox_pending() == []
