"""The metrics page's figures: per route and over time, from the calls' scorecards.

Pure: :func:`review_metrics` takes ``(started_at, scorecard)`` pairs and returns
what the page plots. Rates are per call (the share of calls with at least one
interruption, re-ask, handoff, fallback, guard intervention); response time is
per answered turn. Labels are route names, reason codes and guard outcomes only:
never anything from a transcript.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from .scorecard import aggregate

__all__ = ["review_metrics", "bucket_seconds"]

_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400)


def bucket_seconds(first: datetime, last: datetime, target: int = 12) -> int:
    """The smallest bucket that shows the span in about ``target`` points or fewer."""
    span = max(1.0, (last - first).total_seconds())
    return next((b for b in _BUCKETS if span / b <= target), _BUCKETS[-1])


def _series(cards: list[dict[str, Any]]) -> dict[str, Any]:
    agg = aggregate(cards)
    return {"calls": agg["calls"], "response_ms": agg["response_latency_ms_mean"],
            "interruption_rate": agg["interruption_rate"], "reask_rate": agg["reask_rate"],
            "handoff_rate": agg["handoff_rate"], "fallback_rate": agg["fallback_rate"],
            "guard_rate": agg["guard_intervention_rate"]}


def review_metrics(calls: list[tuple[datetime | None, dict[str, Any]]]) -> dict[str, Any]:
    cards = [c for _, c in calls]
    dated = [(t, c) for t, c in calls if t is not None]
    over_time: dict[str, list[Any]] = {k: [] for k in ("t", "calls", "response_ms", "interruption_rate",
                                                       "reask_rate", "handoff_rate", "fallback_rate", "guard_rate")}
    bucket = 0
    if dated:
        first, last = min(t for t, _ in dated), max(t for t, _ in dated)
        bucket = bucket_seconds(first, last)
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for t, c in dated:
            groups[int(t.timestamp()) // bucket * bucket].append(c)
        for ts in sorted(groups):
            s = _series(groups[ts])
            over_time["t"].append(ts)
            for k in over_time:
                if k != "t":
                    over_time[k].append(s[k])
    by_route: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cards:
        by_route[c["route"] or "(none)"].append(c)
    per_route = {r: _series(cs) for r, cs in sorted(by_route.items())}
    handed = [c for c in cards if c["handoff"]["decided"]]
    n = len(cards)
    lat = [v for c in cards for v in c["response_latency_ms"]["values"]]
    return {
        "calls": n,
        "bucket_s": bucket,
        "totals": aggregate(cards),
        "response_ms_median": round(statistics.median(lat)) if lat else None,
        "over_time": over_time,
        "per_route": per_route,
        "handoff_by_reason": {k: round(v / n, 4) for k, v in Counter(c["handoff"]["reason"] for c in handed).items()}
        if n else {},
        "fallback_by_trigger": {k: round(v / n, 4) for k, v in
                                sum((Counter(c["fallbacks"]["by_trigger"]) for c in cards), Counter()).items()}
        if n else {},
        "guard_outcomes": dict(sum((Counter(c["guard"]["by_outcome"]) for c in cards), Counter())),
    }


def window(since: str | None, now: datetime) -> datetime | None:
    """``7d``, ``24h``, ``30m`` before ``now``; None for all time."""
    if not since:
        return None
    unit = {"d": "days", "h": "hours", "m": "minutes"}.get(since[-1:])
    if unit is None or not since[:-1].isdigit():
        raise ValueError(f"expected a span like 7d, 24h or 30m, got {since!r}")
    return now - timedelta(**{unit: int(since[:-1])})
