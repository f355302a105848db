"""The console's pages over a store, without a browser: filters, pages, a fallback's
answer, a missing call, the metrics page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from turngate.config import Config
from turngate.console import console_app
from turngate.console.app import PAGE
from turngate.core.decisions import Decision
from turngate.store import open_store
from turngate.store.base import OutboxItem

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _d(call_id, seq, at, gate, outcome, reason="x", rule="r", **ev):
    return Decision(call_id=call_id, seq=seq, at_ms=at, gate=gate, outcome=outcome, reason=reason, rule=rule,
                    policy_version="pv", evidence=ev)


@pytest.fixture
def client():
    store = open_store("sqlite://")
    for i in range(PAGE + 2):
        cid = f"CA{i:03d}"
        store.start_call(cid, stream_sid="MZ", caller="", started_at=T0 + timedelta(minutes=i), policy_version="pv")
        ds = [_d(cid, 1, 0, "turn", "call_started"),
              _d(cid, 2, 500, "route", "route", "classifier_final", "route.faq" if i % 2 else "route.refund",
                 route="faq" if i % 2 else "refund")]
        if i == 3:
            ds.append(_d(cid, 3, 900, "model", "fallback", "provider_error", "model.fallback",
                         trigger="ttft_budget", **{"from": "low_latency", "to": "fallback", "elapsed_ms": 2500}))
        store.append_with_outbox(ds, [OutboxItem(key=f"{cid}:crm_note", kind="crm_note", call_id=cid,
                                                 payload={"reason": "explicit_request", "note": "HANDOFF"})]
                                 if i == 4 else [])
        if i == 4:
            store.append([_d(cid, 3, 900, "handoff", "handoff", "explicit_request", "handoff.explicit_request")])
        store.end_call(cid, ended_at=T0 + timedelta(minutes=i, seconds=20), outcome="handoff" if i == 4 else "completed",
                       summary={"context": []})
    app = Starlette(routes=[Mount("/console", app=console_app(store, config=Config.from_env(env={})))])
    with TestClient(app) as c:
        yield c
    store.close()


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-call-id="')[1:]]


def test_list_is_newest_first_and_paginated(client):
    first = client.get("/console/calls").text
    rows = _rows(first)
    assert len(rows) == PAGE and rows[0] == f"CA{PAGE + 1:03d}" and 'rel="next"' in first
    second = client.get("/console/calls?page=2").text
    assert _rows(second) == ["CA001", "CA000"] and 'rel="prev"' in second


def test_list_filters_by_fallback_handoff_route_outcome_and_date(client):
    assert _rows(client.get("/console/calls?fallback=yes").text) == ["CA003"]
    assert _rows(client.get("/console/calls?handoff=explicit_request").text) == ["CA004"]
    assert "CA004" not in _rows(client.get("/console/calls?handoff=no").text)
    assert _rows(client.get("/console/calls?outcome=handoff").text) == ["CA004"]
    assert set(_rows(client.get("/console/calls?route=faq").text)) == {f"CA{i:03d}" for i in range(1, PAGE + 2, 2)}
    assert _rows(client.get("/console/calls?since=2026-12-02").text) == []


def test_five_questions_answer_when_a_fallback_happened_and_why(client):
    html = client.get("/console/calls/CA003").text
    answer = html.split('data-question="fallback"', 1)[1].split("</p>", 1)[0]
    assert "at 900 ms: provider_error (rule model.fallback)" in answer
    assert "ttft_budget" in html.split('data-field="fallbacks"', 1)[1].split("</td>", 1)[0]


def test_unknown_call_is_a_404_page_and_metrics_render(client):
    r = client.get("/console/calls/CA999")
    assert r.status_code == 404 and "No call CA999" in r.text
    m = client.get("/console/metrics?since=3650d")
    assert m.status_code == 200 and 'id="chart-time"' in m.text and "ttft_budget" in m.text
    assert client.get("/console/").status_code == 200  # redirected to the list
    assert client.get("/console/static/uPlot.iife.min.js").status_code == 200
