"""The Handoff gate: when automation stops, to which queue, and with what evidence.

Theory of operation
-------------------
Each caller turn (and each provider failure) yields one ``HandoffSignals``
value: what the Route and Guard gates decided, whether the caller asked for a
person, repeated themselves, named an amount, failed authentication. The gate
is a pure function of (state, signals, policy): counters live in the frozen
``HandoffState``, thresholds in the policy, and the result is a typed decision.

Triggers are checked in a fixed order, most urgent first, and the first that
fires names the reason and the policy rule. Once handed off, the call stays
handed off with the same reason: the log, the CRM note and the transfer all
quote that one decision.

The CRM note is built *from* the decision (``build_crm_note``), so the handoff
reason in the log and the one the advisor reads cannot differ. Verified fields
and confirmed requests come first; inferred emotion is labelled as inference;
zero-retention fields never enter the note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..policy import Policy

__all__ = [
    "CrmNote",
    "FollowUpTask",
    "HandoffDecision",
    "HandoffSignals",
    "HandoffState",
    "VerifiedField",
    "amounts_in",
    "build_crm_note",
    "handoff_gate",
    "is_reask",
]

HandoffOutcome = Literal["stay", "handoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffSignals:
    route: str | None = None              # the Route gate's route for this turn
    route_confidence: float | None = None
    route_outcome: str | None = None      # the Route gate's outcome ("route", "hold", ...)
    human_requested: bool = False         # an explicit request for a person
    reask: bool = False                   # the caller repeated or said "I already said"
    guard_outcome: str | None = None      # the Guard gate's outcome for this turn
    guard_reason: str | None = None
    amount: float | None = None           # largest amount the caller named this turn
    provider_failed: bool = False
    auth_failed: bool = False
    not_understood: bool = False          # a turn of the caller's speech the recogniser gave no words for


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffState:
    turns: int = 0
    reasks: int = 0
    low_confidence_streak: int = 0
    auth_failures: int = 0
    provider_failures: int = 0
    not_understood: int = 0               # such turns in a row (a turn with words ends the run)
    handed_off: bool = False
    reason: str | None = None
    rule: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffDecision:
    handoff: bool
    outcome: HandoffOutcome
    reason: str
    rule: str
    queue: str | None
    evidence: tuple[Mapping[str, Any], ...] = ()

    def to_evidence(self) -> dict[str, Any]:
        return {"queue": self.queue, "evidence": [dict(e) for e in self.evidence]}


def handoff_gate(state: HandoffState, signals: HandoffSignals,
                 policy: Policy) -> tuple[HandoffDecision, HandoffState]:
    """Decide whether this turn hands the call to a person."""
    t = policy.handoff
    route = signals.route
    queue = policy.route(route).handoff_queue if route else t.default_queue

    # Unsure means the Route gate could not say what the caller wants: an
    # "unknown" route, or a route taken on a weak score. A weak final that the
    # gate *held* inside the current purpose ("yes, that's right", "John Smith")
    # is an answer, not confusion, and does not count.
    low_conf = signals.route_confidence is not None and (
        route == "unknown"
        or (signals.route_outcome in ("route", "drift")
            and signals.route_confidence < t.low_confidence)
    )
    nxt = replace(
        state,
        turns=state.turns + 1,
        reasks=state.reasks + int(signals.reask),
        low_confidence_streak=(state.low_confidence_streak + 1) if low_conf else
        (0 if signals.route_confidence is not None else state.low_confidence_streak),
        auth_failures=state.auth_failures + int(signals.auth_failed),
        provider_failures=state.provider_failures + int(signals.provider_failed),
        not_understood=state.not_understood + 1 if signals.not_understood else 0,
    )

    if state.handed_off:
        return HandoffDecision(
            handoff=True, outcome="handoff", reason=state.reason or "already_handed_off",
            rule=state.rule or "handoff.already", queue=state.queue,
            evidence=({"signal": "already_handed_off"},),
        ), nxt

    fired = _first_trigger(nxt, signals, policy)
    if fired is None:
        return HandoffDecision(handoff=False, outcome="stay", reason="no_trigger",
                               rule="handoff.none", queue=None,
                               evidence=_counters(nxt)), nxt
    reason, evidence, target = fired
    target = target or queue
    rule = f"handoff.{reason}"
    decision = HandoffDecision(handoff=True, outcome="handoff", reason=reason, rule=rule,
                               queue=target, evidence=evidence + _counters(nxt))
    return decision, replace(nxt, handed_off=True, reason=reason, rule=rule, queue=target)


def _first_trigger(s: HandoffState, sig: HandoffSignals, policy: Policy
                   ) -> tuple[str, tuple[Mapping[str, Any], ...], str | None] | None:
    t = policy.handoff
    if sig.guard_outcome == "escalate":
        # A person, not the route's queue: "I want to end it all" may have been routed to
        # cancellation, and a caller at risk is no retention case.
        return ("guard_escalation",
                ({"signal": "guard_outcome", "value": "escalate", "guard_reason": sig.guard_reason},),
                t.human_queue)
    if sig.human_requested or sig.route == "human":
        return ("explicit_request", ({"signal": "human_requested", "value": True},), t.human_queue)
    if sig.route == "refund" and sig.amount is not None and sig.amount > t.refund_amount_limit:
        return ("refund_above_limit",
                ({"signal": "amount", "value": sig.amount, "threshold": t.refund_amount_limit},),
                None)
    if s.auth_failures >= t.auth_failure_limit:
        return ("auth_failures",
                ({"signal": "auth_failures", "value": s.auth_failures, "threshold": t.auth_failure_limit},),
                None)
    if s.provider_failures >= t.provider_failure_limit:
        return ("provider_failure",
                ({"signal": "provider_failures", "value": s.provider_failures,
                  "threshold": t.provider_failure_limit},),
                None)
    if s.not_understood >= t.not_understood_limit:
        return ("not_understood",
                ({"signal": "not_understood_turns", "value": s.not_understood,
                  "threshold": t.not_understood_limit},), t.default_queue)
    if s.reasks >= t.reask_limit:
        return ("repeated_reask",
                ({"signal": "reasks", "value": s.reasks, "threshold": t.reask_limit},), None)
    if s.low_confidence_streak >= t.low_confidence_turns:
        return ("low_route_confidence",
                ({"signal": "low_confidence_turns", "value": s.low_confidence_streak,
                  "threshold": t.low_confidence_turns, "route_confidence": sig.route_confidence},),
                t.default_queue)
    return None


def _counters(s: HandoffState) -> tuple[Mapping[str, Any], ...]:
    return ({"signal": "counters", "turns": s.turns, "reasks": s.reasks,
             "low_confidence_streak": s.low_confidence_streak,
             "auth_failures": s.auth_failures, "provider_failures": s.provider_failures},)


# --- signals read from text --------------------------------------------------------------

_REASK = re.compile(
    r"(?:\b(?:i (?:already|just) (?:said|told you|gave)|i said|as i said|like i said|i told you|"
    r"i(?:'ve| have) (?:already )?(?:said|told you)|pardon|come again|say that again|"
    r"(?:can|could) you repeat|repeat that|didn't (?:catch|get) that|"
    r"you(?:'re| are) not (?:listening|understanding)|that's not what i said|no,? i said|"
    r"how many times)\b)|\b(?:what|again)\?|^\s*what\s*\??\s*$",
    re.IGNORECASE,
)


def is_reask(text: str, previous: str | None = None) -> bool:
    """The caller repeats themselves or says they already did.

    A near-repeat of the previous caller turn counts too: callers who are not
    understood say the same thing again, often word for word."""
    if _REASK.search(text):
        return True
    if previous:
        a, b = _words(text), _words(previous)
        if len(a) >= 3 and len(b) >= 3:
            overlap = len(a & b) / len(a | b)
            return overlap >= 0.8
    return False


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


_MONEY_DIGITS = re.compile(r"(?:[$£€]\s?(\d[\d,]*(?:\.\d+)?))|(\d[\d,]*(?:\.\d+)?)\s*(?:dollars|bucks|pounds|euros|usd)",
                           re.IGNORECASE)
_MONEY_WORDS = re.compile(
    r"((?:(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    r"ninety|hundred|thousand|and|a)[\s-]+)+)(?:dollars|bucks|pounds|euros)",
    re.IGNORECASE,
)


def amounts_in(text: str) -> list[float]:
    """Money amounts the caller named, written ("$300", "300 dollars") or spoken
    ("three hundred dollars", via text2num)."""
    out: list[float] = []
    for m in _MONEY_DIGITS.finditer(text):
        raw = (m.group(1) or m.group(2) or "").replace(",", "")
        try:
            out.append(float(raw))
        except ValueError:
            pass
    for m in _MONEY_WORDS.finditer(text):
        words = re.sub(r"\b(and|a)\b", " ", m.group(1)).split()
        if not words:
            continue
        try:
            from text_to_num import text2num

            out.append(float(text2num(" ".join(words), "en")))
        except (ImportError, ValueError):
            pass
    return out


# --- the CRM note ------------------------------------------------------------------------

# What the advisor reads for a guard escalation's reason code.
GUARD_REASONS = {
    "self_harm": "the caller spoke of harming themselves; treat as a welfare call",
    "self_harm_check": ("the caller's words raised a self-harm concern and, asked directly, they did not say "
                        "no; treat as a welfare call"),
    "threat": "the caller threatened staff or others",
    "threatened": "the caller said someone threatens them or their family; treat as a safeguarding call",
    "abuse": "the caller abused the agent",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedField:
    name: str
    value: str
    method: str        # how it was verified: "dtmf_pin", "kba", "sms_otp", ...
    at_ms: int         # call-relative time of verification


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpTask:
    kind: str
    queue: str | None
    evidence: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmNote:
    verified: tuple[VerifiedField, ...]
    confirmed_requests: tuple[str, ...]
    handoff_reason: str
    handoff_rule: str
    queue: str | None
    route: str | None
    inferred: Mapping[str, str]   # label -> value; always presented as inference
    follow_ups: tuple[FollowUpTask, ...]
    withheld_fields: tuple[str, ...] = field(default=())
    guard_reason: str | None = None  # why the guard escalated (self_harm, threat, abuse, ...)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": [{"field": v.name, "value": v.value, "method": v.method, "at_ms": v.at_ms}
                         for v in self.verified],
            "confirmed_requests": list(self.confirmed_requests),
            "handoff": {"reason": self.handoff_reason, "rule": self.handoff_rule, "queue": self.queue,
                        **({"guard_reason": self.guard_reason} if self.guard_reason else {})},
            "route": self.route,
            "inferred": {k: {"value": v, "basis": "inference"} for k, v in self.inferred.items()},
            "follow_ups": [{"kind": f.kind, "queue": f.queue, "evidence": [dict(e) for e in f.evidence]}
                           for f in self.follow_ups],
            "withheld_fields": list(self.withheld_fields),
        }

    def to_text(self) -> str:
        lines = ["VERIFIED (do not ask again):"]
        lines += [f"  {v.name}: {v.value} (verified by {v.method} at {v.at_ms / 1000:.1f}s)"
                  for v in self.verified] or ["  (none)"]
        lines.append("CONFIRMED REQUESTS:")
        lines += [f"  - {r}" for r in self.confirmed_requests] or ["  (none)"]
        lines.append(f"HANDOFF: {self.handoff_reason} (rule {self.handoff_rule}) -> {self.queue or '-'}")
        if self.guard_reason:
            why = GUARD_REASONS.get(self.guard_reason, self.guard_reason)
            lines.append(f"WHY: {why} (guard reason {self.guard_reason}, in the caller's own words)")
        if self.route:
            lines.append(f"ROUTE: {self.route}")
        if self.inferred:
            lines.append("INFERRED (not stated by the caller; an estimate):")
            lines += [f"  {k}: {v} [inference]" for k, v in self.inferred.items()]
        if self.follow_ups:
            lines.append("FOLLOW-UP TASKS:")
            for f in self.follow_ups:
                ev = "; ".join(", ".join(f"{k}={v}" for k, v in e.items()) for e in f.evidence)
                lines.append(f"  - {f.kind} -> {f.queue or '-'} (evidence: {ev})")
        return "\n".join(lines)


def build_crm_note(
    decision: HandoffDecision,
    policy: Policy,
    *,
    route: str | None,
    verified: Sequence[VerifiedField] = (),
    confirmed_requests: Sequence[str] = (),
    inferred_emotion: str | None = None,
    signals: HandoffSignals | None = None,
) -> CrmNote:
    """The note a human advisor reads, built from the same decision the log holds."""
    kept: list[VerifiedField] = []
    withheld: list[str] = []
    for v in verified:
        # Zero-retention fields are used during the call and never stored:
        # "verified" is worth passing on, the value is not.
        if policy.memory.may_store(v.name):
            kept.append(v)
        else:
            withheld.append(v.name)
    inferred = {"emotion": inferred_emotion} if inferred_emotion else {}
    guard_reason = next((str(e["guard_reason"]) for e in decision.evidence
                         if e.get("signal") == "guard_outcome" and e.get("guard_reason")), None)
    return CrmNote(
        verified=tuple(kept),
        confirmed_requests=tuple(confirmed_requests),
        handoff_reason=decision.reason,
        handoff_rule=decision.rule,
        queue=decision.queue,
        route=route,
        inferred=inferred,
        follow_ups=follow_up_tasks(decision, policy, route=route, signals=signals),
        withheld_fields=tuple(withheld),
        guard_reason=guard_reason if decision.handoff else None,
    )


def follow_up_tasks(decision: HandoffDecision, policy: Policy, *, route: str | None,
                    signals: HandoffSignals | None = None) -> tuple[FollowUpTask, ...]:
    """Tasks that must happen after the call, each with the evidence that triggers it."""
    tasks: list[FollowUpTask] = []
    queue = policy.route(route).handoff_queue if route else decision.queue
    by_reason = {
        "refund_above_limit": "approve_refund",
        "provider_failure": "call_back",
        "auth_failures": "identity_review",
        "guard_escalation": "safety_review",
        "repeated_reask": "quality_review",
        "not_understood": "quality_review",
        "low_route_confidence": "quality_review",
    }
    kind = by_reason.get(decision.reason)
    if decision.handoff and kind:
        tasks.append(FollowUpTask(kind=kind, queue=decision.queue,
                                  evidence=tuple(e for e in decision.evidence if e.get("signal") != "counters")))
    if decision.handoff and decision.reason == "guard_escalation":
        return tuple(tasks)  # a caller at risk gets a safety review, not a retention call
    if route == "complaint":
        tasks.append(FollowUpTask(kind="complaint_case", queue=queue,
                                  evidence=({"signal": "route", "value": "complaint", "rule": "route.complaint"},)))
    if route == "cancellation":
        tasks.append(FollowUpTask(kind="retention_contact", queue=queue,
                                  evidence=({"signal": "route", "value": "cancellation",
                                             "rule": "route.cancellation"},)))
    return tuple(tasks)
