"""Prometheus metrics, one registry per app (so tests can run several apps)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

from ..core.decisions import Decision


FRAME_BUCKETS = (0.001, 0.002, 0.004, 0.006, 0.008, 0.010, 0.012, 0.015, 0.020, 0.030, 0.050, 0.100,
                 0.250, 0.5, 1.0)
STORE_BUCKETS = (0.001, 0.002, 0.005, 0.010, 0.020, 0.050, 0.100, 0.250, 0.5, 1.0, 5.0, 30.0)


class _ChildrenCpu:
    """``turngate_children_cpu_seconds_total``: CPU of the finished child processes."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        t = os.times()
        yield CounterMetricFamily("turngate_children_cpu_seconds", "CPU of finished child processes (flite)",
                                  value=t.children_user + t.children_system)


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
        self.calls_refused = Counter("turngate_calls_refused_total", "Webhooks refused (cap, draining, tenant)",
                                     ["reason"], registry=self.registry)
        self.audio_dropped = Counter("turngate_audio_dropped_frames_total",
                                     "20 ms caller frames dropped by a bounded audio queue", ["queue"],
                                     registry=self.registry)
        # Frame receipt (the media message decoded) to the core's actions for its VAD window
        # dispatched; includes the VAD hub's batching tick. Read by `turngate loadtest`.
        self.frame_seconds = Histogram("turngate_frame_handling_seconds",
                                       "Caller frame receipt to the core's actions dispatched",
                                       buckets=FRAME_BUCKETS, registry=self.registry)
        self.store_write_seconds = Histogram("turngate_store_write_seconds",
                                             "One decision-writer transaction, retries included",
                                             buckets=STORE_BUCKETS, registry=self.registry)
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, for CPU per call
        # The embedded TTS runs as child processes (flite), whose CPU process_cpu_seconds_total
        # leaves out; CPU per call counts both.
        self.registry.register(_ChildrenCpu())

    def decisions(self, ds: Sequence[Decision]) -> None:
        for d in ds:
            self.decisions_total.labels(d.gate, d.outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
