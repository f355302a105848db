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
from dataclasses import dataclass, field
from typing import Any

from ..core.decisions import Verdict
from ..core.gatekeeper import AgentTextVerdict, CallerTurnVerdict, FailureVerdict
from ..policy import Policy
from .customers import Customer, CustomerDirectory
from .guard import GuardRules, GuardState, guard_input, guard_output
from .handoff import HandoffSignals, HandoffState, build_crm_note, handoff_gate
from .route import Router, RouteState, route_gate

_HUMAN = re.compile(r"\b(human|person|agent|representative|operator|somebody|someone real|real person|advisor)\b", re.I)
_ASK = re.compile(r"\b(speak|talk|connect|transfer|put me through|get me)\b", re.I)
_REASK = re.compile(r"\b(i already (said|told)|what did you say|say that again|repeat that|you're not listening|"
                    r"are you listening|that's not what i (said|asked))\b", re.I)
_AMOUNT = re.compile(r"\$?\b(\d{2,6})(?:\.\d\d)?\s*(dollars|pounds|euros|bucks)?", re.I)
_AMOUNT_WORDS = {"hundred": 100, "thousand": 1000}


def _word_amount(text: str) -> float | None:
    """Amounts said in words ("three hundred dollars"): enough for a threshold check."""
    m = re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|ten)\s+(hundred|thousand)\b", text, re.I)
    if not m:
        return None
    units = "one two three four five six seven eight nine ten".split()
    return (units.index(m.group(1).lower()) + 1) * _AMOUNT_WORDS[m.group(2).lower()]


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
    verified: dict[str, dict[str, str]] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)
    canary: str = field(default_factory=lambda: "tg-canary-" + secrets.token_hex(6))
    _dtmf: str = ""
    _auth_failures: int = 0
    _provider_failures: int = 0
    _turn: int = 0

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
        guard_d = guard_input(text, rules=self.rules, authenticated=self.authenticated, route=spec.name,
                              requires_auth=spec.requires_auth and final, state=self.guard_state)
        if final:
            self.guard_state = guard_d.state
        verdicts: list[Verdict] = [
            Verdict(gate="route", outcome=route_d.outcome, reason=route_d.reason, rule=route_d.rule,
                    evidence=route_d.evidence()),
            Verdict(gate="guard", outcome=guard_d.outcome, reason=guard_d.reason, rule=guard_d.rule,
                    evidence=guard_d.evidence()),
        ]
        drift = route_d.outcome == "drift"
        if not final:
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, route=spec.name,
                                     drift=drift)

        self._turn += 1
        amount = self._amount(guard_d.redacted)
        signals = HandoffSignals(
            route=spec.name, route_confidence=route_d.confidence,
            explicit_request=spec.name == "human" or bool(_HUMAN.search(guard_d.redacted) and _ASK.search(guard_d.redacted)),
            reask=bool(_REASK.search(guard_d.redacted)),
            guard_escalation=guard_d.outcome == "escalate",
            amount=amount,
            provider_failure=False,
            auth_failures=self._auth_failures,
        )
        hand_d, self.handoff_state = handoff_gate(self.handoff_state, signals, self.policy)
        verdicts.append(Verdict(gate="handoff", outcome=hand_d.outcome, reason=hand_d.reason, rule=hand_d.rule,
                                evidence={"queue": hand_d.queue, "evidence": list(hand_d.evidence)}))
        if hand_d.handoff:
            note = build_crm_note(hand_d, verified=self.verified, confirmed=tuple(self.confirmed),
                                  route=spec.name, transcript_redacted=guard_d.redacted)
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="handoff",
                                     route=spec.name, queue=hand_d.queue, note=note, drift=drift)
        if guard_d.outcome in ("block", "escalate", "require_auth"):
            return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="say",
                                     route=spec.name, reply=guard_d.safe_reply or "", drift=drift)
        profile, why = self._profile(spec.profile, guard_d, route_d.confidence)
        verdicts.append(Verdict(gate="model", outcome="select", reason=why, rule=f"model.{profile}",
                                evidence={"profile": profile, "route": spec.name}))
        memory, withheld = self._memory(spec.name)
        verdicts.append(Verdict(gate="memory", outcome="scope", reason="purpose_filter", rule=f"memory.{spec.name}",
                                evidence={"sent": [k for k, _ in memory], "withheld": withheld}))
        return CallerTurnVerdict(verdicts=tuple(verdicts), redacted=guard_d.redacted, action="respond",
                                 route=spec.name, profile=profile, memory=memory, drift=drift)

    def _amount(self, text: str) -> float | None:
        best = None
        for m in _AMOUNT.finditer(text):
            if m.group(2) or text[max(0, m.start() - 1):m.start() + 1].startswith("$"):
                best = max(best or 0.0, float(m.group(1)))
        w = _word_amount(text)
        return max(best or 0.0, w) if w else best

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
        verdicts: tuple[Verdict, ...] = ()
        if d.outcome != "allow":
            verdicts = (Verdict(gate="guard", outcome=d.outcome, reason=d.reason, rule=d.rule,
                                evidence={**d.evidence(), "direction": "output"}),)
        return AgentTextVerdict(verdicts=verdicts, text=d.redacted, blocked=d.outcome == "block")

    # ------------------------------------------------------------ keypad
    def dtmf(self, digit: str) -> tuple[Verdict, ...]:
        if digit != "#":
            self._dtmf = (self._dtmf + digit)[-12:]
            return ()
        entered, self._dtmf = self._dtmf, ""
        if self.customer is None or not self.customer.pin:
            return (Verdict(gate="guard", outcome="require_auth", reason="no_customer_record",
                            rule="guard.auth.dtmf_pin", evidence={"digits": len(entered)}),)
        if secrets.compare_digest(entered, self.customer.pin):
            self.authenticated = True
            self.verified["identity"] = {"method": "dtmf_pin", "status": "verified"}
            return (Verdict(gate="guard", outcome="authenticated", reason="dtmf_pin_match",
                            rule="guard.auth.dtmf_pin", evidence={"digits": len(entered)}),)
        self._auth_failures += 1
        return (Verdict(gate="guard", outcome="require_auth", reason="dtmf_pin_mismatch",
                        rule="guard.auth.dtmf_pin", evidence={"digits": len(entered),
                                                              "failures": self._auth_failures}),)

    # ------------------------------------------------------------ failures
    def generation_failed(self, profile: str, reason: str, attempts: int) -> FailureVerdict:
        self._provider_failures += 1
        limit = self.policy.handoff.provider_failure_limit
        if attempts < limit and profile != "fallback":
            return FailureVerdict(verdicts=(Verdict(gate="model", outcome="fallback", reason="provider_error",
                                                    rule="model.fallback",
                                                    evidence={"from": profile, "to": "fallback",
                                                              "error": reason[:120], "attempt": attempts}),),
                                  fallback_profile="fallback")
        queue = self.policy.handoff.default_queue
        return FailureVerdict(verdicts=(Verdict(gate="handoff", outcome="handoff", reason="provider_failure",
                                                rule="handoff.provider_failure",
                                                evidence={"queue": queue, "attempts": attempts}),),
                              queue=queue, note=f"Automation failed ({reason[:80]}); caller needs a person.")


def keeper_factory(policy: Policy, greeting: str, directory: CustomerDirectory | None = None):
    """Build the per-call gatekeeper factory; the router is trained once, here."""
    router = Router.from_policy(policy)
    directory = directory or CustomerDirectory.bundled()

    def make(parameters: Mapping[str, str]) -> PolicyGatekeeper:
        return PolicyGatekeeper(policy=policy, router=router, greeting_text=greeting,
                                customer=directory.lookup(parameters.get("from", "")))

    return make
