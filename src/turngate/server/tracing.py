"""OpenTelemetry traces: a span per call, a span per turn, the decisions as span events.

Off by default. With ``TURNGATE_OTEL_ENDPOINT`` set (an OTLP/HTTP traces URL, e.g.
``http://collector:4318/v1/traces``) and the ``otel`` extra installed, each call
becomes one trace. Spans are built from the decision records alone, after the fact
of each decision, with the decision's own call-relative time, so a trace says what
the log says and nothing more:

- ``call``: from the call's start to its end; attributes ``turngate.call_id``,
  ``turngate.policy_version``, ``turngate.outcome``;
- ``turn``: from a caller's onset (``caller_started``, or the ``end_of_turn`` that
  closed a turn with no onset of its own) to the bot's answer being played out, cut
  (``abandon``), or the next caller turn;
- one event per decision, named ``gate.outcome``, with its seq, reason, rule and its
  evidence as JSON: the log's redacted evidence, never anything else.

The caller's number is not an attribute.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..core.decisions import Decision

__all__ = ["make_tracer", "CallSpans"]

log = logging.getLogger("turngate.tracing")
_TURN_OPEN = ("caller_started",)
_TURN_CLOSE = ("agent_done", "abandon", "ended")


def make_tracer(endpoint: str) -> Any:
    """An OTLP/HTTP tracer for ``endpoint``, or None when it is empty or the SDK is missing."""
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.error("TURNGATE_OTEL_ENDPOINT is set but OpenTelemetry is not installed: pip install 'turngate[otel]'")
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "turngate"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=1000))
    return provider


class CallSpans:
    """One call's spans, fed its decisions in order. ``started_ns``: the call's start, epoch ns."""

    def __init__(self, provider: Any, call_id: str, policy_version: str, started_ns: int) -> None:
        from opentelemetry import trace

        self._trace = trace
        self.tracer = provider.get_tracer("turngate")
        self.t0 = started_ns
        self.call = self.tracer.start_span("call", start_time=started_ns, attributes={
            "turngate.call_id": call_id, "turngate.policy_version": policy_version})
        self.turn: Any = None
        self.turns = 0
        self.last_ns = started_ns

    def _ns(self, d: Decision) -> int:
        return self.t0 + d.at_ms * 1_000_000

    def _open_turn(self, d: Decision) -> None:
        self._close_turn(self._ns(d))
        self.turns += 1
        ctx = self._trace.set_span_in_context(self.call)
        self.turn = self.tracer.start_span("turn", context=ctx, start_time=self._ns(d),
                                           attributes={"turngate.turn": self.turns})

    def _close_turn(self, at_ns: int) -> None:
        if self.turn is not None:
            self.turn.end(end_time=at_ns)
            self.turn = None

    def decisions(self, ds: list[Decision]) -> None:
        for d in ds:
            at = self._ns(d)
            self.last_ns = max(self.last_ns, at)
            if d.gate == "turn" and (d.outcome in _TURN_OPEN or (d.outcome == "end_of_turn" and self.turn is None)):
                self._open_turn(d)
            span = self.turn if self.turn is not None else self.call
            span.add_event(f"{d.gate}.{d.outcome}", timestamp=at, attributes={
                "turngate.seq": d.seq, "turngate.at_ms": d.at_ms, "turngate.gate": d.gate,
                "turngate.outcome": d.outcome, "turngate.reason": d.reason, "turngate.rule": d.rule,
                "turngate.evidence": json.dumps(d.evidence, default=str, sort_keys=True)})
            if d.gate == "route" and self.turn is not None:
                self.turn.set_attribute("turngate.route", str(d.evidence.get("route") or d.rule))
            if d.gate == "turn" and d.outcome in _TURN_CLOSE:
                self._close_turn(at)

    def end(self, outcome: str, ended_ns: int | None = None) -> None:
        end = max(self.last_ns, ended_ns or self.last_ns)
        self._close_turn(end)
        self.call.set_attribute("turngate.outcome", outcome)
        self.call.set_attribute("turngate.turns", self.turns)
        self.call.end(end_time=end)
