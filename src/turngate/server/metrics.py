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
        self.streams_refused = Counter("turngate_streams_refused_total", "Media streams refused",
                                       ["reason"], registry=self.registry)
        self.decisions_total = Counter("turngate_decisions_total", "Decision records",
                                       ["gate", "outcome"], registry=self.registry)
        self.calls_refused = Counter("turngate_calls_refused_total", "Webhooks refused (cap, draining, tenant)",
                                     ["reason"], registry=self.registry)
        self.audio_dropped = Counter("turngate_audio_dropped_frames_total",
                                     "20 ms caller frames dropped by a bounded audio queue", ["queue"],
                                     registry=self.registry)

    def decisions(self, ds: Sequence[Decision]) -> None:
        for d in ds:
            self.decisions_total.labels(d.gate, d.outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
