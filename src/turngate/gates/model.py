"""Model selection: which profile serves this caller turn, or whether no model should.

Theory of operation
-------------------
Model choice is a runtime decision from the call state, not a setting. After Route,
Guard and Handoff have decided on a final (and the turn is going to a model at all),
``select_model`` reads one ``SelectionInputs`` value (the route and how sure it is,
the guard's outcome, the recogniser's confidence, re-asks so far, and the customer's
state) and walks the policy's ``model_selection.rules`` in order; the first rule
whose every condition holds decides:

* ``then: <profile>``  the turn goes to that profile (``low_latency``, ``strong_guard``)
* ``then: clarify``    no model: the call asks ``model_selection.clarify_reply``
* ``then: handoff``    no model: a person takes over (the handoff record names the rule)

No rule matching keeps the route's own profile (rule ``model_selection.route_profile``).

"Uncertain" means the Route gate (re)decided the purpose on this text (outcome
``route`` or ``drift``) with a confidence below ``model_selection.uncertain_below``,
or the recogniser's confidence is below ``stt_uncertain_below``. A weak answer that
the gate *held* inside the current flow ("yes", "the one from Tuesday") is a slot
being filled, not confusion, and does not count.

The result is a ``model`` record (outcome ``selected``) whose evidence lists every
input the selection read and the conditions of the rule that decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..core.decisions import Verdict
from ..policy import ModelSelectionPolicy, SelectionRule

__all__ = ["ModelSelection", "SelectionInputs", "select_model"]

SelectionAction = Literal["respond", "clarify", "handoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionInputs:
    route: str
    route_outcome: str
    route_confidence: float
    route_profile: str
    guard_outcome: str
    injection: bool = False
    stt_confidence: float | None = None
    reasks: int = 0
    authenticated: bool = False
    risk: bool = False
    segment: str = "standard"
    repeat_caller: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSelection:
    action: SelectionAction
    profile: str                 # the chosen profile; "" when no model serves the turn
    rule_id: str
    reason: str
    uncertain: bool
    inputs: SelectionInputs
    matched: Mapping[str, Any]   # the deciding rule's conditions
    queue: str | None = None     # for a handoff: the rule's queue, if it names one

    @property
    def rule(self) -> str:
        return f"model_selection.{self.rule_id}"

    def verdict(self) -> Verdict:
        return Verdict(gate="model", outcome="selected", reason=self.reason, rule=self.rule,
                       evidence={"profile": self.profile, "action": self.action, "route": self.inputs.route,
                                 "inputs": {**asdict(self.inputs), "uncertain": self.uncertain},
                                 "matched": dict(self.matched)})


def select_model(inputs: SelectionInputs, policy: ModelSelectionPolicy) -> ModelSelection:
    """The first rule of ``policy.rules`` that matches ``inputs`` decides. Pure."""
    uncertain = _uncertain(inputs, policy)
    for rule in policy.rules:
        if _matches(rule, inputs, uncertain):
            action: SelectionAction = rule.then if rule.then in ("clarify", "handoff") else "respond"  # type: ignore[assignment]
            return ModelSelection(action=action, profile=rule.then if action == "respond" else "",
                                  rule_id=rule.id, reason=_reason(rule, action), uncertain=uncertain,
                                  inputs=inputs, matched=rule.when, queue=rule.queue)
    return ModelSelection(action="respond", profile=inputs.route_profile, rule_id="route_profile",
                          reason="route_profile", uncertain=uncertain, inputs=inputs, matched={})


def _uncertain(x: SelectionInputs, p: ModelSelectionPolicy) -> bool:
    route_unsure = x.route_outcome in ("route", "drift") and x.route_confidence < p.uncertain_below
    stt_unsure = x.stt_confidence is not None and x.stt_confidence < p.stt_uncertain_below
    return route_unsure or stt_unsure


def _matches(rule: SelectionRule, x: SelectionInputs, uncertain: bool) -> bool:
    w = rule.when
    checks = {
        "routes": lambda v: x.route in v,
        "guard": lambda v: x.guard_outcome in v,
        "injection": lambda v: x.injection == v,
        "uncertain": lambda v: uncertain == v,
        "route_confidence_below": lambda v: x.route_outcome in ("route", "drift") and x.route_confidence < v,
        "stt_confidence_below": lambda v: x.stt_confidence is not None and x.stt_confidence < v,
        "reasks_at_least": lambda v: x.reasks >= v,
        "authenticated": lambda v: x.authenticated == v,
        "risk": lambda v: x.risk == v,
        "segments": lambda v: x.segment in v,
        "repeat_caller": lambda v: x.repeat_caller == v,
    }
    return all(checks[k](v) for k, v in w.items())


def _reason(rule: SelectionRule, action: SelectionAction) -> str:
    if action != "respond":
        return action  # "clarify", "handoff"
    return f"profile_{rule.then}"
