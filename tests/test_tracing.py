"""OpenTelemetry: a call span, turn spans, decisions as events, from the records alone."""

from __future__ import annotations

import json

import pytest

from turngate.core.decisions import Decision
from turngate.server.tracing import CallSpans, make_tracer

sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

T0 = 1_700_000_000_000_000_000


def _d(seq, at, gate, outcome, rule="r", **ev):
    return Decision(call_id="CA1", seq=seq, at_ms=at, gate=gate, outcome=outcome, reason="why", rule=rule,
                    policy_version="pv", evidence=ev)


CALL = [
    _d(1, 0, "turn", "call_started"), _d(2, 40, "turn", "agent_started"), _d(3, 3800, "turn", "agent_done"),
    _d(4, 4900, "turn", "caller_started", onset_ms=4850),
    _d(5, 7200, "turn", "end_of_turn", silence_ms=350),
    _d(6, 7500, "route", "route", "route.payment", route="payment"),
    _d(7, 7500, "guard", "redact", "guard.pii.card_number", redacted="my card is [CARD_NUMBER]"),
    _d(8, 7640, "turn", "agent_started"), _d(9, 9000, "turn", "pause", reaction_ms=32),
    _d(10, 9600, "turn", "abandon", heard_text="Sure"),
    _d(11, 10300, "turn", "end_of_turn", silence_ms=500), _d(12, 10500, "turn", "agent_started"),
    _d(13, 12000, "turn", "ended"),
]


@pytest.fixture
def exported():
    provider = sdk.TracerProvider()
    mem = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    spans = CallSpans(provider, "CA1", "pv", T0)
    spans.decisions(CALL[:7])
    spans.decisions(CALL[7:])
    spans.end("completed", T0 + 12_500_000_000)
    return mem.get_finished_spans()


def test_one_call_span_with_a_turn_span_per_caller_turn_and_every_decision_as_an_event(exported):
    call = next(s for s in exported if s.name == "call")
    turns = sorted((s for s in exported if s.name == "turn"), key=lambda s: s.start_time)
    assert call.attributes["turngate.call_id"] == "CA1" and call.attributes["turngate.outcome"] == "completed"
    assert call.start_time == T0 and call.end_time == T0 + 12_500_000_000
    assert len(turns) == 2 and all(t.parent.span_id == call.context.span_id for t in turns)
    first, second = turns
    assert (first.start_time - T0) // 1_000_000 == 4900 and (first.end_time - T0) // 1_000_000 == 9600
    assert first.attributes["turngate.route"] == "payment"
    assert [e.name for e in first.events] == ["turn.caller_started", "turn.end_of_turn", "route.route",
                                              "guard.redact", "turn.agent_started", "turn.pause", "turn.abandon"]
    assert (second.start_time - T0) // 1_000_000 == 10300
    events = [e for s in exported for e in s.events]
    assert len(events) == len(CALL)
    guard = next(e for e in events if e.name == "guard.redact")
    assert guard.attributes["turngate.rule"] == "guard.pii.card_number"
    assert json.loads(guard.attributes["turngate.evidence"]) == {"redacted": "my card is [CARD_NUMBER]"}


def test_no_endpoint_means_no_tracer():
    assert make_tracer("") is None


# -- the gateway's own traces ---------------------------------------------------------------


def _strings(value):
    """Every string inside a JSON-like value (numbers are measurements, not what was said)."""
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            yield value
            return
        if isinstance(inner, str | dict | list):
            yield from _strings(inner) if not isinstance(inner, str) else iter([inner])
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _attrs(attributes):
    for kv in attributes:
        v = kv.value
        yield kv.key
        if v.HasField("string_value"):
            yield from _strings(v.string_value)


@pytest.mark.slow
def test_gateway_exports_call_and_turn_spans_without_any_canary_value(console_gateway):
    import re
    import time

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    _url, ids, _store, bodies = console_gateway
    canary_call = ids["canary_pii"]
    deadline = time.monotonic() + 15
    spans = []
    while time.monotonic() < deadline:
        spans = []
        for body in list(bodies):
            req = ExportTraceServiceRequest.FromString(body)
            spans += [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        calls = {a.value.string_value for s in spans if s.name == "call" for a in s.attributes
                 if a.key == "turngate.call_id"}
        if canary_call in calls:
            break
        time.sleep(0.5)
    assert canary_call in calls, "every call is one trace"
    assert any(s.name == "turn" for s in spans)
    texts = []
    for s in spans:
        texts += list(_attrs(s.attributes))
        for e in s.events:
            texts.append(e.name)
            texts += list(_attrs(e.attributes))
    assert any("guard" in t for t in texts)
    for text in texts:
        # Twilio's ids are random hex: a call id "CA...f7390..." once held the canary's "739".
        text = re.sub(r"\b(?:CA|MZ|AC)[0-9a-f]{32}\b", "<sid>", text)
        digits = re.sub(r"(?<=\d)[\s,-]+(?=\d)", "", text)
        for canary in ("4111", "739", "536229876"):
            assert re.search(rf"(?<![\d.]){canary}", digits) is None, text
        for canary in ("four one one one", "seven three nine", "five three six two two"):
            assert canary not in text, text
