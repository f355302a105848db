"""The console in a real browser (Debian's Chromium driven by Playwright) against a real
gateway (embedded stack) that has taken calls from the demo scenarios.

One gateway (``console_gateway`` in conftest: five calls at real-time pace, shared with
the replay tests) and one browser for the module. Skipped, with the reason, where
Chromium or Playwright is missing.
"""

from __future__ import annotations

import re

import httpx
import pytest

from turngate.console.browser import available, launch

CANARIES = ["4111 1111 1111 1111", "4111", "739", "536-22-9876"]  # card, CVV, SSN as the canary call speaks them

pytestmark = [pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]


@pytest.fixture(scope="module")
def gateway(console_gateway):
    url, ids, _store, _spans = console_gateway
    return url, ids


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    yield pg
    pg.close()


def _listed(page) -> set[str]:
    return set(page.locator("tr.call-row").evaluate_all("rows => rows.map(r => r.dataset.callId)"))


def test_call_list_filters_by_handoff_guard_outcome_and_route(gateway, page):
    url, ids = gateway
    page.goto(f"{url}/console/calls")
    assert set(ids.values()) <= _listed(page)
    page.select_option("select[name=handoff]", "yes")
    page.click("#filters button[type=submit]")
    assert _listed(page) == {ids["human_request"]}
    page.select_option("select[name=handoff]", "")
    page.select_option("select[name=guard]", "require_auth")
    page.click("#filters button[type=submit]")
    shown = _listed(page)
    assert ids["payment_unauthenticated"] in shown and ids["human_request"] not in shown
    assert ids["long_answer_interrupted"] not in shown
    page.goto(f"{url}/console/calls?route=faq")
    assert _listed(page) == {ids["long_answer_interrupted"]}
    page.goto(f"{url}/console/calls?since=2000-01-01&until=2000-01-02")
    assert _listed(page) == set()


def test_timeline_shows_the_barge_in_with_its_reaction_time_and_the_heard_and_cut_parts(gateway, page):
    url, ids = gateway
    page.goto(f"{url}/console/calls/{ids['long_answer_interrupted']}")
    barge = page.locator("svg#timeline path.bargein.abandon")
    assert barge.count() == 1
    reaction = int(barge.get_attribute("data-reaction-ms"))
    assert 0 < reaction < 500
    assert page.locator("svg#timeline text.bargein-label").first.text_content() == f"{reaction} ms"
    assert page.locator("svg#timeline rect.bot-heard").count() >= 2   # greeting, the answer up to the cut
    cut = page.locator("svg#timeline rect.bot-cut")
    assert cut.count() == 1
    cut.hover()
    tip = page.locator("#tip")
    assert tip.is_visible()
    assert "cut" in tip.text_content() and "heard" in tip.text_content()
    barge.hover()
    assert f"reaction {reaction} ms" in page.locator("#tip").text_content()
    assert page.locator("[data-field=reaction]").text_content().strip().startswith(f"{reaction} ms")
    assert page.locator("[data-field=truncation]").text_content().strip().startswith("ok")


def test_five_questions_panel_answers_for_a_handoff_and_for_a_guard_restriction(gateway, page):
    url, ids = gateway
    page.goto(f"{url}/console/calls/{ids['human_request']}")
    handoff = page.locator("[data-question=handoff] .answer").text_content()
    assert "'explicit_request'" in handoff and "match" in handoff and "MISMATCH" not in handoff
    assert "routed to 'human'" in page.locator("[data-question=route] .answer").text_content()
    assert "HANDOFF: explicit_request" in page.locator("[data-question=handoff] .crm-note pre").text_content()

    page.goto(f"{url}/console/calls/{ids['payment_unauthenticated']}")
    guard = page.locator("[data-question=guard] .answer").text_content()
    assert re.search(r"require_auth by guard\.auth\.payment \(auth_required\)", guard)
    assert "dtmf_pin_mismatch" in guard
    assert "no model fallback occurred" in page.locator("[data-question=fallback] .answer").text_content()
    assert page.locator("[data-question=handoff] .answer").text_content().startswith("no handoff")


def test_five_questions_panel_answers_for_a_fallback(gateway, page):
    url, ids = gateway
    page.goto(f"{url}/console/calls/{ids['long_answer_interrupted']}")
    fallback = page.locator("[data-question=fallback] .answer").text_content()
    assert "first_token_timeout" in fallback and "no model fallback" not in fallback, fallback


def test_metrics_page_plots_its_series_over_time_and_per_route(gateway, page):
    url, _ = gateway
    page.goto(f"{url}/console/metrics")
    for chart in ("#chart-time", "#chart-route"):
        el = page.locator(chart)
        assert el.locator("canvas").count() == 1
        assert el.get_attribute("data-series") == "6"
        assert int(el.get_attribute("data-points")) >= 1
        labels = el.locator(".u-legend .u-series .u-label").all_text_contents()
        assert {"response time (ms)", "interruption rate (%)", "re-ask rate (%)", "handoff rate (%)",
                "fallback rate (%)", "guard intervention rate (%)"} <= set(labels)
    routes = page.locator("#per-route tbody td:first-child").all_text_contents()
    assert {"faq", "human", "payment"} <= set(routes)
    assert "explicit_request" in page.locator("#handoff-reasons").text_content()


def _has(text: str, canary: str) -> bool:
    digits = re.sub(r"\D", "", canary)
    # Twilio's ids are random hex and may hold "739" between two letters; a decision's
    # measured times and levels ("heard_ms": 739) are the gateway's numbers, not the caller's.
    text = re.sub(r"\b(?:CA|MZ|AC)[0-9a-f]{32}\b", "<sid>", text)
    text = re.sub(r'"\w+_(?:ms|db)": -?[\d.]+', "<measure>", text)
    # The digits as one number, however they were grouped or spelled with separators.
    squashed = re.sub(r"(?<=\d)[\s,-]+(?=\d)", "", text)
    return re.search(rf"(?<![\d.]){digits}(?![\d.])", squashed) is not None


def test_canary_card_cvv_and_ssn_appear_in_no_page_and_no_metric_label(gateway, page):
    url, ids = gateway
    cid = ids["canary_pii"]
    texts = []
    for path in (f"/console/calls/{cid}", "/console/calls", "/console/metrics", "/console/calls?route=payment"):
        page.goto(url + path)
        texts.append(page.inner_text("body"))
        texts += page.locator("[data-tip]").evaluate_all("els => els.map(e => e.dataset.tip)")
    labels = re.findall(r"\{([^}]*)\}", httpx.get(f"{url}/metrics", timeout=10).text)
    texts += labels
    assert labels, "the gateway's metrics carry labels"
    for text in texts:
        for canary in CANARIES:
            assert not _has(text, canary), (canary, text[:300])
