"""`turngate calls list|show|why` as a user runs it: a subprocess over a store file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from turngate.core.decisions import Decision
from turngate.store import OutboxItem, open_store
from turngate.store.cli import explain

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 5, 9, 30, 0, tzinfo=UTC)


def d(seq: int, gate: str, outcome: str, reason: str, rule: str, call_id: str = "CA-refund", **ev) -> Decision:
    return Decision(call_id=call_id, seq=seq, at_ms=seq * 1000, gate=gate, outcome=outcome, reason=reason,
                    rule=rule, policy_version="p7", evidence=ev)


def populate(url: str) -> None:
    """Two calls: a refund that drifts, gets redacted, falls back and is handed off with a
    matching note; and an FAQ whose CRM note disagrees with its handoff decision."""
    s = open_store(url)
    try:
        s.start_call("CA-refund", stream_sid="MZ1", caller="+15550100", started_at=T0, policy_version="p7")
        s.append([
            d(1, "turn", "call_started", "stream_start", "turn.start"),
            d(2, "route", "faq", "partial_match", "route.faq", confidence=0.55),
            d(3, "route", "refund", "intent_drift", "route.refund", confidence=0.88),
            d(4, "guard", "allow", "clean", "guard.pii"),
            d(5, "guard", "redact", "card_number_spoken", "guard.pii.card", entities=["card_number"]),
            d(6, "guard", "require_auth", "unauthenticated_refund", "guard.authority.refund"),
            d(7, "model", "select", "route_profile", "model.strong_guard", profile="strong_guard"),
            d(8, "model", "fallback", "ttft_budget_exceeded", "model.fallback.ttft", ttft_ms=2100),
        ])
        s.append_with_outbox(
            [d(9, "handoff", "transfer", "explicit_request", "handoff.explicit", queue="refunds")],
            [
                OutboxItem(key="CA-refund:crm_note:9", kind="crm_note", call_id="CA-refund",
                           payload={"reason": "explicit_request", "decision_seq": 9, "note": "Refund request."}),
                OutboxItem(key="CA-refund:follow_up:9", kind="follow_up", call_id="CA-refund",
                           payload={"task": "refund_callback",
                                    "evidence": {"route": "refund", "auth": "not_verified"}}),
            ],
        )
        s.end_call("CA-refund", ended_at=T0 + timedelta(seconds=64), outcome="handoff",
                   summary={"turns": 4, "transcript": ["I want a refund", "card [CARD]"]})

        s.start_call("CA-faq", stream_sid="MZ2", caller=None, started_at=T0 + timedelta(minutes=5),
                     policy_version="p7")
        s.append_with_outbox(
            [d(1, "route", "faq", "keyword", "route.faq", call_id="CA-faq", confidence=0.97),
             d(2, "handoff", "transfer", "repeated_reask", "handoff.reask", call_id="CA-faq")],
            [OutboxItem(key="CA-faq:crm_note", kind="crm_note", call_id="CA-faq",
                        payload={"reason": "explicit_request", "decision_seq": 2})],
        )
    finally:
        s.close()


@pytest.fixture(params=["sqlite_file", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    url = (f"sqlite:///{tmp_path / 'calls.db'}" if request.param == "sqlite_file"
           else request.getfixturevalue("postgres_url"))
    populate(url)
    return url


def turngate(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("TURNGATE_STORE", None)
    return subprocess.run([sys.executable, "-m", "turngate.cli", "calls", *args, "--store", store],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_list_json_has_newest_call_first_with_duration_and_counts(store_url):
    r = turngate("list", "--json", store=store_url)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [c["call_id"] for c in rows] == ["CA-faq", "CA-refund"]
    assert rows[1]["duration_s"] == 64.0 and rows[1]["decision_count"] == 9 and rows[1]["outcome"] == "handoff"
    assert rows[0]["outcome"] is None


def test_list_table_shows_each_call(store_url):
    r = turngate("list", store=store_url)
    assert r.returncode == 0, r.stderr
    assert "CA-refund" in r.stdout and "CA-faq" in r.stdout and "64.0 s" in r.stdout
    assert "(in progress)" in r.stdout


def test_show_json_gives_metadata_and_every_decision_in_order(store_url):
    r = turngate("show", "CA-refund", "--json", store=store_url)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["call"]["stream_sid"] == "MZ1" and out["call"]["summary"]["turns"] == 4
    assert [x["seq"] for x in out["decisions"]] == list(range(1, 10))
    assert out["decisions"][4] == {
        "call_id": "CA-refund", "seq": 5, "at_ms": 5000, "gate": "guard", "outcome": "redact",
        "reason": "card_number_spoken", "rule": "guard.pii.card", "policy_version": "p7",
        "evidence": {"entities": ["card_number"]},
    }


def test_show_table_prints_decisions(store_url):
    r = turngate("show", "CA-refund", store=store_url)
    assert r.returncode == 0, r.stderr
    assert "card_number_spoken" in r.stdout and "guard.authority.refund" in r.stdout


def test_why_answers_the_five_questions_from_the_records(store_url):
    r = turngate("why", "CA-refund", "--json", store=store_url)
    assert r.returncode == 0, r.stderr
    why = json.loads(r.stdout)
    assert [(x["outcome"], x["rule"], x["confidence"]) for x in why["route"]["records"]] == [
        ("faq", "route.faq", 0.55), ("refund", "route.refund", 0.88)]
    assert "'refund'" in why["route"]["answer"] and "1 change(s)" in why["route"]["answer"]
    assert [(x["outcome"], x["rule"]) for x in why["guard"]["records"]] == [
        ("redact", "guard.pii.card"), ("require_auth", "guard.authority.refund")]
    assert [(x["at_ms"], x["reason"]) for x in why["fallback"]["records"]] == [(8000, "ttft_budget_exceeded")]
    assert why["handoff"]["match"] is True
    assert why["handoff"]["crm_notes"][0]["decision_reason"] == "explicit_request"
    assert why["follow_up"]["records"][0]["evidence"] == {"route": "refund", "auth": "not_verified"}


def test_why_flags_a_crm_note_that_disagrees_with_the_handoff_decision(store_url):
    r = turngate("why", "CA-faq", "--json", store=store_url)
    why = json.loads(r.stdout)
    assert why["handoff"]["match"] is False
    assert why["guard"]["records"] == [] and why["fallback"]["records"] == []
    assert why["follow_up"]["answer"] == "no follow-up task was queued"
    text = turngate("why", "CA-faq", store=store_url).stdout
    assert "MISMATCH" in text and "5. What evidence will trigger the next follow-up task?" in text


def test_unknown_call_id_is_a_clear_error(store_url):
    for cmd in ("show", "why"):
        r = turngate(cmd, "CA-nope", store=store_url)
        assert r.returncode == 1
        assert "no call 'CA-nope'" in r.stderr and r.stdout == ""


def test_unreachable_store_is_reported_without_a_traceback(tmp_path):
    r = turngate("list", store=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert r.returncode == 2 and "cannot open store" in r.stderr and "Traceback" not in r.stderr
    r = turngate("list", store="mysql://x@y/z")
    assert r.returncode == 2 and "not supported" in r.stderr


def test_explain_without_any_records_says_so(tmp_path):
    s = open_store("sqlite://")
    s.start_call("CA0", stream_sid=None, caller=None, started_at=T0, policy_version="p7")
    why = explain(s.get_call("CA0"))
    s.close()
    assert why["route"]["answer"] == "no route decision was recorded"
    assert why["handoff"]["match"] is None
