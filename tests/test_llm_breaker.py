"""The circuit breaker as timelines on a fake clock: (now, what happened) in, the
breaker's answer out. No time passes by itself."""

from __future__ import annotations

from turngate.llm.breaker import Admit, BreakerPolicy, Breakers, CircuitBreaker, Probe, Refuse
from turngate.testing import FakeClock

POLICY = BreakerPolicy(failures_to_open=3, cool_down_s=10.0)


def test_consecutive_failures_open_the_breaker_and_it_refuses_until_the_cool_down():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    for _ in range(2):
        assert b.check(clock()) == Admit()
        b.failure(clock.advance(0.5), "server_error")
    assert b.state == "closed"
    assert b.check(clock()) == Admit()
    b.failure(clock.advance(0.5), "disconnect")          # the third in a row, at t=1.5
    assert b.state == "open"
    assert b.check(clock.advance(1.0)) == Refuse(retry_at=11.5)
    assert b.check(clock.advance(8.49)) == Refuse(retry_at=11.5)


def test_after_the_cool_down_one_probe_goes_and_its_success_closes_the_breaker():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    for _ in range(3):
        b.check(clock())
        b.failure(clock(), "rate_limited")
    clock.advance(10.0)
    assert b.check(clock()) == Probe()
    assert b.state == "half_open"
    assert b.check(clock()) == Refuse(retry_at=10.0)      # only one probe at a time
    b.success(clock.advance(0.3))
    assert b.state == "closed"
    assert b.check(clock()) == Admit()


def test_a_failed_probe_opens_the_breaker_for_another_cool_down():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    for _ in range(3):
        b.failure(clock(), "timeout")
    assert b.check(clock.advance(10.0)) == Probe()
    b.failure(clock.advance(2.0), "server_error")        # the probe failed at t=12
    assert b.state == "open"
    assert b.check(clock.advance(9.9)) == Refuse(retry_at=22.0)
    assert b.check(clock.advance(0.1)) == Probe()


def test_a_cancelled_probe_frees_the_probe_slot_without_a_verdict():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    for _ in range(3):
        b.failure(clock(), "server_error")
    assert b.check(clock.advance(10.0)) == Probe()
    b.release(clock.advance(0.2))                        # barge-in cancelled the probe
    assert b.state == "half_open"
    assert b.check(clock()) == Probe()


def test_a_success_resets_the_count_of_consecutive_failures():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    b.failure(clock(), "server_error")
    b.failure(clock(), "server_error")
    b.success(clock())
    b.failure(clock(), "server_error")
    b.failure(clock(), "server_error")
    assert b.state == "closed"


def test_configuration_failures_do_not_trip_the_breaker():
    clock, b = FakeClock(), CircuitBreaker(POLICY)
    for _ in range(10):
        b.failure(clock(), "config")
        b.failure(clock(), "error")
    assert b.state == "closed" and b.check(clock()) == Admit()


def test_breakers_are_kept_per_provider():
    reg = Breakers(POLICY)
    a, b = reg.for_key("http://a/v1#m"), reg.for_key("http://b/v1#m")
    assert reg.for_key("http://a/v1#m") is a and a is not b
    for _ in range(3):
        a.failure(0.0, "server_error")
    assert reg.states() == {"http://a/v1#m": "open", "http://b/v1#m": "closed"}
