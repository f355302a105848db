"""bench/route_callers.py's set: callers' opening requests, never the policy's own examples."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import caller_requests  # noqa: E402


def norm(t: str) -> str:
    return " ".join(t.lower().replace(",", "").replace("?", "").split())


def test_no_request_is_one_of_the_policys_examples(policy):
    examples = {norm(e) for spec in policy.routes.values() for e in spec.examples}
    asked = {norm(t) for texts in caller_requests.CALLER_REQUESTS.values() for t in texts}
    assert not asked & examples


def test_the_halves_split_every_route_evenly_and_share_nothing(policy):
    tune, held = caller_requests.half("tune"), caller_requests.half("heldout")
    assert not {t for t, _ in tune} & {t for t, _ in held}
    assert sorted(tune + held) == sorted(caller_requests.half("all"))
    for route in caller_requests.CALLER_REQUESTS:
        assert route in policy.routes
        assert sum(r == route for _, r in tune) == sum(r == route for _, r in held) >= 10
