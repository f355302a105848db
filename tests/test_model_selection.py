"""Model selection per turn: one case per rule of the bundled policy's ``model_selection``,
the evidence each selection records, and the policy section's validation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from turngate.errors import ConfigError
from turngate.gates.customers import Customer
from turngate.gates.model import SelectionInputs, select_model
from turngate.gates.pipeline import CallContext, PolicyGatekeeper
from turngate.policy import parse_policy

from test_policy import _default_text




SURE = SelectionInputs(route="faq", route_outcome="route", route_confidence=0.9, route_profile="low_latency",
                       guard_outcome="allow")

# (rule id, inputs, action, profile): one per rule, in the policy's order, then no rule.
CASES = [
    ("emotional_risk", replace(SURE, risk=True), "handoff", ""),
    ("unclear_after_reask", replace(SURE, route_confidence=0.47, reasks=1), "handoff", ""),
    ("unclear", replace(SURE, route_confidence=0.47), "clarify", ""),
    ("unclear", replace(SURE, stt_confidence=0.3), "clarify", ""),  # the recogniser doubts the final
    ("repeat_complaint", replace(SURE, route="complaint", route_profile="strong_guard", repeat_caller=True),
     "handoff", ""),
    ("regulated", replace(SURE, route="appointment", guard_outcome="redact"), "respond", "strong_guard"),
    ("complaints_refunds", replace(SURE, route="refund", route_profile="strong_guard", authenticated=True),
     "respond", "strong_guard"),
    ("short_faq_appointment", replace(SURE, route="appointment"), "respond", "low_latency"),
    ("route_profile", replace(SURE, route="unknown", route_outcome="unknown", route_confidence=0.1,
                              route_profile="fallback"), "respond", "fallback"),
]


@pytest.mark.parametrize("rule,inputs,action,profile", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_selection_rule(policy, rule, inputs, action, profile):
    sel = select_model(inputs, policy.model_selection)
    assert (sel.rule_id, sel.action, sel.profile) == (rule, action, profile)
    v = sel.verdict()
    assert (v.gate, v.outcome, v.rule) == ("model", "selected", f"model_selection.{rule}")
    # The record lists every input it read, and the conditions that decided.
    assert set(v.evidence["inputs"]) >= {"route", "route_confidence", "guard_outcome", "stt_confidence", "reasks",
                                         "authenticated", "risk", "segment", "repeat_caller", "uncertain"}
    rules = {r.id: r for r in policy.model_selection.rules}
    assert v.evidence["matched"] == (dict(rules[rule].when) if rule in rules else {})


def test_a_held_weak_answer_is_not_uncertain(policy):
    # "yes that's right" while paying: the Route gate held the flow; that is a slot, not confusion.
    held = replace(SURE, route="payment", route_outcome="hold", route_confidence=0.2, route_profile="strong_guard",
                   authenticated=True)
    sel = select_model(held, policy.model_selection)
    assert not sel.uncertain and sel.rule_id == "complaints_refunds"


def _keeper(policy, router, **context):
    return PolicyGatekeeper(policy=policy, router=router, greeting_text="hi",
                            context=CallContext.from_dict(context, routes=policy.routes))


def test_the_chosen_profile_is_the_verdicts_profile(policy, router):
    faq = _keeper(policy, router).caller_text("what are your opening hours on saturday", final=True,
                                              agent_speaking=False)
    assert faq.action == "respond" and faq.profile == "low_latency"
    complaint = _keeper(policy, router).caller_text("i want to make a complaint about the awful service",
                                                    final=True, agent_speaking=False)
    assert complaint.action == "respond" and complaint.profile == "strong_guard"
    (model,) = [v for v in complaint.verdicts if v.gate == "model"]
    assert model.rule == "model_selection.complaints_refunds"


def test_a_selection_handoff_is_the_handoff_record_and_the_note(policy, router):
    keeper = PolicyGatekeeper(policy=policy, router=router, greeting_text="hi",
                              customer=Customer(phone="+1555", fields={"repeat_caller": "true"}))
    v = keeper.caller_text("i want to make a complaint about the awful service", final=True, agent_speaking=False)
    assert v.action == "handoff"
    gates = [x.gate for x in v.verdicts]
    assert gates[-2:] == ["model", "handoff"]
    hand = v.verdicts[-1]
    assert (hand.outcome, hand.reason, hand.rule) == ("handoff", "repeat_complaint", "model_selection.repeat_complaint")
    assert "repeat_complaint (rule model_selection.repeat_complaint)" in v.note
    assert keeper.handoff_state.handed_off


def test_clarify_says_the_policy_reply(policy, router):
    keeper = _keeper(policy, router)
    v = keeper.caller_text("what are your opening hours on saturday", final=True, agent_speaking=False,
                           stt_confidence=0.2)
    assert v.action == "say" and v.reply == policy.model_selection.clarify_reply


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_policy(text, source="bad.yaml")
    return str(exc.value)


def _with_rules(rules: str) -> str:
    base = _default_text()
    start = base.index("  rules:\n    - id: emotional_risk")
    end = base.index("\nturn_taking:")
    return base[:start] + rules + base[end:]


def _line(text: str, needle: str) -> int:
    return text.splitlines().index(next(ln for ln in text.splitlines() if needle in ln)) + 1


@pytest.mark.parametrize("rules,needle,message", [
    ("  rules:\n    - id: fast\n      when: {routes: [faq]}\n      then: turbo\n", "then: turbo", "unknown choice"),
    ("  rules:\n    - id: fast\n      when: {routes: [nowhere]}\n      then: low_latency\n", "when: {routes",
     "no route 'nowhere'"),
    ("  rules:\n    - id: fast\n      when: {mood: sad}\n      then: low_latency\n", "when: {mood", "mood"),
    ("  rules:\n    - id: a\n      when: {risk: true}\n      then: handoff\n"
     "    - id: a\n      when: {risk: false}\n      then: handoff\n", "    - id: a\n", "duplicate rule id"),
    ("  rules:\n    - id: fast\n      when: {}\n      then: low_latency\n", "when: {}", "at least one condition"),
])
def test_a_bad_model_selection_names_file_line_and_field(rules, needle, message):
    text = _with_rules(rules)
    err = _error(text)
    assert "model_selection.rules" in err and message in err
    assert err.startswith("bad.yaml:")
    line = int(err.split(":")[1])
    lines = text.splitlines()
    rule_start = _line(text, "  rules:")
    assert rule_start <= line <= rule_start + 8, (line, err)
