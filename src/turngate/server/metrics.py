"""Prometheus metrics, one registry per app (so tests can run several apps)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from ..core.decisions import Decision


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_active = Gauge("turngate_calls_active", "Calls in progress", registry=self.registry)
        self.calls_total = Counter("turngate_calls_total", "Calls started", registry=self.registry)
        # reason: the close reason (missing/bad signature, missing/bad token, token call mismatch,
        # token expired, token replayed, too many streams, no start, ...)
        self.streams_refused = Counter("turngate_streams_refused_total", "Media streams refused",
                                       ["reason"], registry=self.registry)
        # reason: rate_limited, unsigned, missing signature, bad signature, bad_request
        self.webhooks_refused = Counter("turngate_webhooks_refused_total", "Twilio webhooks refused",
                                        ["reason"], registry=self.registry)
        # reason: not_local, missing_token, bad_token
        self.admin_refused = Counter("turngate_admin_refused_total", "Admin requests refused (/api, /metrics, "
                                     "/console)", ["reason"], registry=self.registry)
        self.decisions_total = Counter("turngate_decisions_total", "Decision records",
                                       ["gate", "outcome"], registry=self.registry)

    def decisions(self, ds: Sequence[Decision]) -> None:
        for d in ds:
            self.decisions_total.labels(d.gate, d.outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
