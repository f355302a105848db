"""PolicyGatekeeper: the gates of one call, wired from the policy.

Order on a caller's text: Route (what do they want), Guard (what is in it and may
this route go ahead: PII, injection, unsafe, authentication), Handoff (must a
person take over), model policy (which profile serves the turn), memory (which
fields this purpose may see). Each is its own verdict, so each is its own
decision record. The guard runs on the raw text; everything that leaves this
module (verdict evidence, the redacted text for the context) is redacted.

Per-call state lives here (route hysteresis, guard carry-over, handoff counters,
authentication); the gate functions themselves are pure.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.decisions import Verdict
from ..core.gatekeeper import AgentTextVerdict, CallerTurnVerdict, FailureVerdict, FollowUp, KeypadVerdict
from ..errors import ConfigError
from ..policy import Policy
from .customers import Customer, CustomerDirectory
from .guard import GuardRules, GuardState, arm_after_prompt, guard_input, guard_output
from .handoff import (
    HandoffDecision, HandoffSignals, HandoffState, VerifiedField, amounts_in, build_crm_note, handoff_gate,
    follow_up_tasks, is_reask,
)
from .route import Router, RouteState, route_gate

REPLIES = {
    "verified": "Thank you, you are verified. How can I help?",
    "mismatch": "Sorry, that PIN did not match. Please enter it again, followed by the pound key.",
    "no_record": "Sorry, I could not find your record, so I cannot verify you by PIN. I can connect you with a colleague.",
    "handoff": "One moment please. I am connecting you with a colleague who can help.",
}

_HUMAN = re.compile(r"\b(human|person|agent|representative|operator|somebody|someone|advisor|manager)\b", re.I)
_ASK = re.compile(r"\b(speak|talk|connect|transfer|put me through|get me)\b", re.I)


@dataclass
class PolicyGatekeeper:
    policy: Policy
    router: Router
    greeting_text: str
    customer: Customer | None = None
    route_state: RouteState = field(default_factory=RouteState)
    guard_state: GuardState = field(default_factory=GuardState)
    handoff_state: HandoffState = field(default_factory=HandoffState)
    authenticated: bool = False
    verified: list[VerifiedField] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    now_ms: int = 0  # call-relative time of the latest event, for "verified at"
    canary: str = field(default_factory=lambda: "tg-canary-" + secrets.token_hex(6))
    _dtmf: str = ""
    _auth_failures: int = 0
    _auth_failed_pending: bool = False
    _turn: int = 0
    _last_user: str | None = None

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def rules(self) -> GuardRules:
        return self.policy.guard_rules or GuardRules()

    def greeting(self) -> str:
        return self.greeting_text

    # ------------------------------------------------------------ caller text
    def caller_text(self, text: str, *, final: bool, agent_speaking: bool) -> CallerTurnVerdict:
        segment = self.customer.segment if self.customer else "standard"
        route_d, self.route_state = route_gate(self.router, self.route_state, text, final=final,
                                               agent_speaking=agent_speaking, segment=segment)
        spec = self.policy.route(route_d.route)
        drift = route_d.outcome == "drift"
        guard_d = guard_input(text, rules=self.rules, authenticated=self.authenticated, route=spec.name,
                              requires_auth=spec.requires_auth and final, state=self.guard_state)
        if final:
            self.guard_state = guard_d.state
        verdicts: list[Verdict] = [Verdict(gate="route", outcome=route_d.outcome, reason=route_d.reason,
                                           rule=route_d.rule, evidence=route_d.evidence())]
        if guard_d.findings and guard_d.outcome not in ("allow", "redact"):
            # Two rules acted: the PII redaction and the restriction (auth, block, escalate).
            # Each is its own record, so "which guard restricted" has one answer per rule.
            verdicts.append(Verdict(gate="guard", outcome="redact", reason="pii_redacted",
                                    rule=guard_d.findings[0].rule,
                                    evidence={"findings": [{"type": f.type, "start": f.start, "end": f.end,
                                                            "rule": f.rule} for f in guard_d.findings]}))
        verdicts.append(Verdict(gate="guard", outcome=guard_d.outcome, reason=guard_d.reason, rule=guard_d.rule,
                                evidence=guard_d.evidence()))
        if not final:
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, route=spec.name,
                                     drift=drift)

        self._turn += 1
        amounts = amounts_in(guard_d.redacted)
        signals = HandoffSignals(
            route=spec.name, route_confidence=route_d.confidence, route_outcome=route_d.outcome,
            human_requested=bool(_HUMAN.search(guard_d.redacted) and _ASK.search(guard_d.redacted)),
            reask=is_reask(guard_d.redacted, self._last_user),
            guard_outcome=guard_d.outcome, guard_reason=guard_d.reason,
            amount=max(amounts) if amounts else None,
            auth_failed=self._auth_failed_pending,
        )
        self._auth_failed_pending = False
        self._last_user = guard_d.redacted
        hand_d, self.handoff_state = handoff_gate(self.handoff_state, signals, self.policy)
        verdicts.append(self._handoff_verdict(hand_d))
        follow_ups = self._follow_ups(hand_d, spec.name, signals)
        request = f"{spec.name}: {spec.description}"
        if spec.name not in ("unknown", "human") and request not in self.confirmed:
            self.confirmed.append(request)
        if hand_d.handoff:
            note = build_crm_note(hand_d, self.policy, route=spec.name, verified=tuple(self.verified),
                                  confirmed_requests=tuple(self.confirmed), signals=signals)
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="handoff",
                                     route=spec.name, queue=hand_d.queue or self.policy.handoff.default_queue,
                                     note=note.to_text(), drift=drift, reply=REPLIES["handoff"],
                                     follow_ups=follow_ups)
        if guard_d.outcome in ("block", "escalate", "require_auth"):
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="say",
                                     route=spec.name, reply=guard_d.safe_reply or "", drift=drift,
                                     follow_ups=follow_ups)
        profile, why = self._profile(spec.profile, guard_d, route_d.confidence)
        verdicts.append(Verdict(gate="model", outcome="select", reason=why, rule=f"model.{profile}",
                                evidence={"profile": profile, "route": spec.name}))
        memory, withheld = self._memory(spec.name)
        verdicts.append(Verdict(gate="memory", outcome="scope", reason="purpose_filter", rule=f"memory.{spec.name}",
                                evidence={"sent": [k for k, _ in memory], "withheld": withheld}))
        return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="respond",
                                 route=spec.name, profile=profile, memory=memory, drift=drift,
                                 follow_ups=follow_ups)

    def _profile(self, route_profile: str, guard_d: Any, confidence: float) -> tuple[str, str]:
        # Model choice is a runtime policy: what was said and how sure we are, not only the route.
        if guard_d.injection or guard_d.outcome == "redact":
            return "strong_guard", "guard_findings"
        if confidence < self.policy.handoff.low_confidence:
            return "strong_guard", "low_route_confidence"
        return route_profile, "route_profile"

    def _memory(self, route: str) -> tuple[tuple[tuple[str, str], ...], list[str]]:
        if self.customer is None:
            return (), []
        sent: list[tuple[str, str]] = []
        withheld: list[str] = []
        needs_auth = self.policy.route(route).requires_auth
        for name in self.policy.memory_for(route):
            value = self.customer.fields.get(name)
            if value is None:
                continue
            if self.policy.memory.may_send_external(name) and (self.authenticated or not needs_auth):
                sent.append((name, value))
            else:
                withheld.append(name)
        return tuple(sent), withheld

    # ------------------------------------------------------------ agent text
    def agent_text(self, text: str) -> AgentTextVerdict:
        d = guard_output(text, rules=self.rules, canary=self.canary)
        # If we just asked for a security code or a card number, a bare "four five six"
        # in the answer is that field.
        self.guard_state = arm_after_prompt(self.guard_state, d.redacted)
        verdicts: tuple[Verdict, ...] = ()
        if d.outcome != "allow":
            verdicts = (Verdict(gate="guard", outcome=d.outcome, reason=d.reason, rule=d.rule,
                                evidence={**d.evidence(), "direction": "output"}),)
        return AgentTextVerdict(verdicts=verdicts, text=d.redacted, blocked=d.outcome == "block")

    # ------------------------------------------------------------ keypad
    def dtmf(self, digit: str, at_ms: int = 0) -> KeypadVerdict:
        # Digits are zero-retention: only their count reaches a record.
        self.now_ms = at_ms
        if digit != "#":
            self._dtmf = (self._dtmf + digit)[-12:]
            return KeypadVerdict()
        entered, self._dtmf = self._dtmf, ""
        rule = "guard.auth.dtmf_pin"
        if self.customer is None or not self.customer.pin:
            return KeypadVerdict(verdicts=(Verdict(gate="guard", outcome="require_auth", reason="no_customer_record",
                                                   rule=rule, evidence={"digits": len(entered)}),),
                                 reply=REPLIES["no_record"])
        if secrets.compare_digest(entered, self.customer.pin):
            self.authenticated = True
            self.verified.append(VerifiedField(name="identity", value="caller verified", method="dtmf_pin",
                                               at_ms=at_ms))
            for name in ("name", "account_id"):
                if name in self.customer.fields:
                    self.verified.append(VerifiedField(name=name, value=self.customer.fields[name],
                                                       method="crm_match_after_pin", at_ms=at_ms))
            return KeypadVerdict(verdicts=(Verdict(gate="guard", outcome="authenticated", reason="dtmf_pin_match",
                                                   rule=rule, evidence={"digits": len(entered)}),),
                                 reply=REPLIES["verified"])
        self._auth_failures += 1
        self._auth_failed_pending = True
        return KeypadVerdict(verdicts=(Verdict(gate="guard", outcome="require_auth", reason="dtmf_pin_mismatch",
                                               rule=rule, evidence={"digits": len(entered),
                                                                    "failures": self._auth_failures}),),
                             reply=REPLIES["mismatch"])

    # ------------------------------------------------------------ failures
    def generation_failed(self, profile: str, reason: str, attempts: int) -> FailureVerdict:
        limit = self.policy.handoff.provider_failure_limit
        if attempts < limit and profile != "fallback":
            return FailureVerdict(verdicts=(Verdict(gate="model", outcome="fallback", reason="provider_error",
                                                    rule="model.fallback",
                                                    evidence={"from": profile, "to": "fallback",
                                                              "error": reason[:120], "attempt": attempts}),),
                                  fallback_profile="fallback")
        signals = HandoffSignals(route=self.route_state.held, provider_failed=True)
        # Every failed attempt counts, so the gate sees the policy's threshold crossed.
        self.handoff_state = replace(self.handoff_state,
                                     provider_failures=self.handoff_state.provider_failures + attempts - 1)
        hand_d, self.handoff_state = handoff_gate(self.handoff_state, signals, self.policy)
        v = self._handoff_verdict(hand_d)
        if not hand_d.handoff:
            return FailureVerdict(verdicts=(v,), reply="Sorry, I am having trouble right now. Could you say that again?")
        note = build_crm_note(hand_d, self.policy, route=self.route_state.held, verified=tuple(self.verified),
                              confirmed_requests=tuple(self.confirmed), signals=signals)
        return FailureVerdict(verdicts=(v,), queue=hand_d.queue or self.policy.handoff.default_queue,
                              note=note.to_text(), follow_ups=self._follow_ups(hand_d, self.route_state.held, signals))

    def _follow_ups(self, d: HandoffDecision, route: str | None, signals: HandoffSignals) -> tuple[FollowUp, ...]:
        return tuple(FollowUp(kind=t.kind, queue=t.queue or self.policy.handoff.default_queue,
                              reason=d.reason if d.handoff else f"route_{route}",
                              evidence=tuple(dict(e) for e in t.evidence))
                     for t in follow_up_tasks(d, self.policy, route=route, signals=signals))

    def _handoff_verdict(self, d: HandoffDecision) -> Verdict:
        return Verdict(gate="handoff", outcome=d.outcome, reason=d.reason, rule=d.rule,
                       evidence={"queue": d.queue, "evidence": [dict(e) for e in d.evidence]})


def keeper_factory(policy: Policy, greeting: str, directory: CustomerDirectory | None = None, *,
                   encoder: Any = None):
    """Build the per-call gatekeeper factory; the router is trained once, here.

    ``encoder`` is the route gate's sentence encoder as the shell wraps it (cached, warmed
    off the event loop: ``embedding.cache.for_policy``); None lets the router load its own."""
    from .guard.injection import load_model

    router = Router.from_policy(policy, encoder=encoder)
    if load_model() is None:  # loaded once here, not on the first caller's first words
        raise ConfigError("the injection model (turngate/data/guard_injection.json.gz) is missing from the package")
    directory = directory or CustomerDirectory.bundled()

    def make(parameters: Mapping[str, str]) -> PolicyGatekeeper:
        return PolicyGatekeeper(policy=policy, router=router, greeting_text=greeting,
                                customer=directory.lookup(parameters.get("from", "")))

    # The shell calls this in a worker thread with each final before the core sees it.
    make.prefetch = getattr(encoder, "warm", None)  # type: ignore[attr-defined]
    return make
