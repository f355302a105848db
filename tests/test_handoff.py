"""The Handoff gate: each trigger, its reason and rule, the queue, and the CRM
note built from the same decision."""

from __future__ import annotations

import pytest

from turngate.gates.handoff import (
    HandoffSignals,
    HandoffState,
    VerifiedField,
    amounts_in,
    build_crm_note,
    handoff_gate,
    is_reask,
)
from turngate.policy import load_policy


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _turns(policy, signals, state=None):
    state = state or HandoffState()
    out = []
    for s in signals:
        d, state = handoff_gate(state, s, policy)
        out.append(d)
    return out, state


def test_ordinary_turn_stays(policy):
    d, st = handoff_gate(HandoffState(), HandoffSignals(route="faq", route_confidence=0.9), policy)
    assert (d.handoff, d.outcome, d.reason, d.rule, d.queue) == (False, "stay", "no_trigger", "handoff.none", None)
    assert st.turns == 1


def test_explicit_request_for_a_person_hands_off_at_once(policy):
    d, st = handoff_gate(HandoffState(), HandoffSignals(route="human", route_confidence=0.97), policy)
    assert (d.handoff, d.reason, d.rule) == (True, "explicit_request", "handoff.explicit_request")
    assert d.queue == policy.handoff.human_queue
    assert st.handed_off


def test_repeated_reasks_hand_off_at_the_policy_limit(policy):
    limit = policy.handoff.reask_limit
    sig = HandoffSignals(route="payment", route_confidence=0.9, reask=True)
    ds, _ = _turns(policy, [sig] * limit)
    assert [d.handoff for d in ds] == [False] * (limit - 1) + [True]
    assert ds[-1].reason == "repeated_reask" and ds[-1].queue == "payments"
    assert {"signal": "reasks", "value": limit, "threshold": limit} in ds[-1].evidence


def test_turns_not_understood_in_a_row_hand_off_and_a_turn_with_words_ends_the_run(policy):
    limit = policy.handoff.not_understood_limit
    wordless, words = HandoffSignals(not_understood=True), HandoffSignals(route="faq", route_confidence=0.9)
    ds, _ = _turns(policy, [wordless] * (limit - 1) + [words] + [wordless] * (limit - 1))
    assert not any(d.handoff for d in ds), "a turn with words in between starts the count again"
    ds, _ = _turns(policy, [wordless] * limit)
    assert [d.handoff for d in ds] == [False] * (limit - 1) + [True]
    assert (ds[-1].reason, ds[-1].queue) == ("not_understood", policy.handoff.default_queue)
    assert {"signal": "not_understood_turns", "value": limit, "threshold": limit} in ds[-1].evidence
    note = build_crm_note(ds[-1], policy, route=None)
    assert "HANDOFF: not_understood" in note.to_text()
    assert [f.kind for f in note.follow_ups] == ["quality_review"]


def test_low_route_confidence_over_n_turns(policy):
    n = policy.handoff.low_confidence_turns
    weak = HandoffSignals(route="unknown", route_confidence=0.3)
    ds, _ = _turns(policy, [weak] * n)
    assert [d.handoff for d in ds] == [False] * (n - 1) + [True]
    assert ds[-1].reason == "low_route_confidence"


def test_answers_held_inside_the_purpose_are_not_low_confidence(policy):
    n = policy.handoff.low_confidence_turns
    answer = HandoffSignals(route="payment", route_confidence=0.1, route_outcome="hold")
    ds, st = _turns(policy, [answer] * (n + 1))
    assert not any(d.handoff for d in ds) and st.low_confidence_streak == 0
    weak_route = HandoffSignals(route="faq", route_confidence=0.3, route_outcome="route")
    ds, _ = _turns(policy, [weak_route] * n)
    assert ds[-1].reason == "low_route_confidence"


def test_a_confident_turn_resets_the_low_confidence_streak(policy):
    n = policy.handoff.low_confidence_turns
    weak = HandoffSignals(route="unknown", route_confidence=0.3)
    sure = HandoffSignals(route="faq", route_confidence=0.95)
    ds, st = _turns(policy, [weak] * (n - 1) + [sure] + [weak] * (n - 1))
    assert not any(d.handoff for d in ds)
    assert st.low_confidence_streak == n - 1


def test_refund_above_policy_amount_hands_off_to_refunds(policy):
    limit = policy.handoff.refund_amount_limit
    d, _ = handoff_gate(HandoffState(), HandoffSignals(route="refund", route_confidence=0.9, amount=limit), policy)
    assert not d.handoff
    d, _ = handoff_gate(HandoffState(), HandoffSignals(route="refund", route_confidence=0.9, amount=limit + 1), policy)
    assert (d.reason, d.queue) == ("refund_above_limit", "refunds")
    assert d.evidence[0] == {"signal": "amount", "value": limit + 1, "threshold": limit}


def test_guard_escalation_beats_every_other_trigger(policy):
    sig = HandoffSignals(route="human", route_confidence=0.9, guard_outcome="escalate",
                         guard_reason="self_harm", reask=True)
    d, _ = handoff_gate(HandoffState(), sig, policy)
    assert (d.reason, d.rule) == ("guard_escalation", "handoff.guard_escalation")


def test_provider_and_auth_failures_count_up_to_their_limits(policy):
    ds, _ = _turns(policy, [HandoffSignals(provider_failed=True)] * policy.handoff.provider_failure_limit)
    assert ds[-1].reason == "provider_failure" and not any(d.handoff for d in ds[:-1])
    ds, _ = _turns(policy, [HandoffSignals(route="payment", auth_failed=True)] * policy.handoff.auth_failure_limit)
    assert ds[-1].reason == "auth_failures" and ds[-1].queue == "payments"


def test_once_handed_off_the_reason_stays_the_same(policy):
    ds, st = _turns(policy, [HandoffSignals(route="human", route_confidence=0.9),
                             HandoffSignals(route="faq", route_confidence=0.9)])
    assert ds[1].handoff and ds[1].reason == ds[0].reason and ds[1].queue == ds[0].queue


def test_reask_detection():
    assert is_reask("I already told you my account number")
    assert is_reask("what?")
    assert is_reask("sorry what? i didn't catch that")
    assert is_reask("could you repeat the last part")
    assert is_reask("like I said, I want a refund")
    assert is_reask("i want to pay my bill", previous="I want to pay my bill.")
    assert not is_reask("i want to pay my bill", previous="what are your opening hours")
    assert not is_reask("what time do you open tomorrow")


def test_amounts_written_and_spoken():
    assert amounts_in("refund $1,200.50 please") == [1200.5]
    assert amounts_in("it was three hundred and forty dollars") == [340.0]
    assert amounts_in("about 60 bucks") == [60.0]
    assert amounts_in("my order number is 12345") == []


def test_crm_note_uses_the_decisions_reason_and_labels_inference(policy):
    d, _ = handoff_gate(HandoffState(), HandoffSignals(route="refund", route_confidence=0.9, amount=900.0), policy)
    note = build_crm_note(
        d, policy, route="refund",
        verified=[VerifiedField(name="account_id", value="AC-1042", method="dtmf_pin", at_ms=12000),
                  VerifiedField(name="date_of_birth", value="1980-01-02", method="kba", at_ms=15000)],
        confirmed_requests=["refund order 8812 (jacket, wrong size)"],
        inferred_emotion="frustrated",
    )
    assert (note.handoff_reason, note.handoff_rule, note.queue) == (d.reason, d.rule, d.queue)
    text = note.to_text()
    # Verified fields and confirmed requests come before anything else.
    assert text.index("VERIFIED") < text.index("CONFIRMED") < text.index("HANDOFF") < text.index("INFERRED")
    assert "frustrated [inference]" in text
    assert note.to_dict()["inferred"]["emotion"] == {"value": "frustrated", "basis": "inference"}
    # Zero-retention fields are never written into the note, only named as withheld.
    assert "1980-01-02" not in text and note.withheld_fields == ("date_of_birth",)
    # The follow-up task carries the evidence that triggers it.
    (task,) = note.follow_ups
    assert task.kind == "approve_refund"
    assert task.evidence == ({"signal": "amount", "value": 900.0, "threshold": policy.handoff.refund_amount_limit},)


def test_complaint_route_creates_a_case_follow_up_even_without_handoff(policy):
    d, _ = handoff_gate(HandoffState(), HandoffSignals(route="complaint", route_confidence=0.9), policy)
    note = build_crm_note(d, policy, route="complaint")
    assert [f.kind for f in note.follow_ups] == ["complaint_case"]
    assert note.follow_ups[0].evidence[0]["rule"] == "route.complaint"
