"""The gate pipeline: one pure function from a caller's text and the call's context to
every gate's decision, and ``PolicyGatekeeper``, the per-call state that feeds it.

Order on a caller's text: Route (what do they want), Guard (what is in it and may
this route go ahead: PII, injection, unsafe, authentication), Handoff (must a
person take over), model policy (which profile serves the turn), memory (which
fields this purpose may see). Each is its own verdict, so each is its own
decision record. The guard runs on the raw text; everything that leaves this
module (verdict evidence, the redacted text for the context) is redacted.

``run_gates(router, policy, text, final=..., context=...)`` is the pipeline: pure,
typed, and the only wiring of the gates. Live calls (``PolicyGatekeeper.caller_text``)
and ``turngate policy eval`` both call it, so for the same text and ``CallContext``
they decide the same. ``PolicyGatekeeper`` keeps the context between texts and adds
what needs the caller's record (memory scope, the CRM note, follow-ups, the PIN).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.decisions import Verdict
from ..core.gatekeeper import Action, AgentTextVerdict, CallerTurnVerdict, FailureVerdict, FollowUp, KeypadVerdict
from ..errors import ConfigError
from ..policy import Policy
from .customers import Customer, CustomerDirectory
from .guard import GuardDecision, GuardRules, GuardState, arm_after_prompt, guard_input, guard_output
from .guard.numbers import number_shape
from .guard.risk import model_words
from .model import ModelSelection, SelectionInputs, select_model
from .handoff import (
    HandoffDecision, HandoffSignals, HandoffState, VerifiedField, amounts_in, build_crm_note, handoff_gate,
    follow_up_tasks, is_reask,
)
from .route import RouteDecision, Router, RouteState, route_gate

REPLIES = {
    "verified": "Thank you, you are verified. How can I help?",
    "mismatch": "Sorry, that PIN did not match. Please enter it again, followed by the pound key.",
    "no_record": "Sorry, I could not find your record, so I cannot verify you by PIN. I can connect you with a colleague.",
    "handoff": "One moment please. I am connecting you with a colleague who can help.",
}

_HUMAN = re.compile(r"\b(human|person|agent|representative|operator|somebody|someone|advisor|manager)\b", re.I)
_ASK = re.compile(r"\b(speak|talk|connect|transfer|put me through|get me)\b", re.I)
_RESTRICTING = ("block", "escalate", "require_auth", "check")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """Everything the gates know about the call before this text, besides the words.

    ``route`` holds the previous route (``route.held``) and this turn's partial streak;
    ``handoff`` the counters (turns so far, re-asks, ...); ``guard`` the carry-over of a
    number read across turns. ``from_dict`` builds one from ``policy eval``'s per-line
    ``context`` object."""

    route: RouteState = field(default_factory=RouteState)
    guard: GuardState = field(default_factory=GuardState)
    handoff: HandoffState = field(default_factory=HandoffState)
    authenticated: bool = False
    agent_speaking: bool = False
    last_caller_text: str | None = None   # the previous final, redacted (re-ask detection)
    auth_failed: bool = False             # a PIN failed since the last final
    segment: str = "standard"
    repeat_caller: bool = False
    risk: bool = False                    # a risk signal on the customer's record
    stt_confidence: float | None = None   # the recogniser's confidence in this final, if it gives one

    @property
    def previous_route(self) -> str | None:
        return self.route.held

    @property
    def turns(self) -> int:
        return self.handoff.turns

    @property
    def reasks(self) -> int:
        return self.handoff.reasks

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, routes: Mapping[str, Any] | None = None) -> CallContext:
        """``{"previous_route", "authenticated", "turns", "reasks", "last_text", "segment",
        "repeat_caller", "risk", "stt_confidence", "agent_speaking", "welfare_check"}``, all
        optional (``welfare_check``: the previous final raised a self-harm concern and the
        caller was asked whether they are safe); ValueError on an unknown key or a wrong type."""
        types: dict[str, tuple[type, ...]] = {
            "previous_route": (str, type(None)), "authenticated": (bool,), "turns": (int,), "reasks": (int,),
            "last_text": (str, type(None)), "segment": (str,), "repeat_caller": (bool,), "risk": (bool,),
            "stt_confidence": (int, float, type(None)), "agent_speaking": (bool,), "welfare_check": (bool,)}
        for k, v in d.items():
            if k not in types:
                raise ValueError(f"context: unknown key {k!r} (known: {', '.join(types)})")
            if not isinstance(v, types[k]) or (isinstance(v, bool) and bool not in types[k]):
                raise ValueError(f"context.{k}: wrong type {type(v).__name__}")
        prev = d.get("previous_route")
        if prev is not None and routes is not None and prev not in routes:
            raise ValueError(f"context.previous_route: no route {prev!r} in the policy")
        if d.get("turns", 0) < 0 or d.get("reasks", 0) < 0:
            raise ValueError("context: turns and reasks must be >= 0")
        stt = d.get("stt_confidence")
        return cls(route=RouteState(held=prev), guard=GuardState(checking=d.get("welfare_check", False)),
                   handoff=HandoffState(turns=d.get("turns", 0), reasks=d.get("reasks", 0)),
                   authenticated=d.get("authenticated", False), agent_speaking=d.get("agent_speaking", False),
                   last_caller_text=d.get("last_text"), segment=d.get("segment", "standard"),
                   repeat_caller=d.get("repeat_caller", False), risk=d.get("risk", False),
                   stt_confidence=float(stt) if stt is not None else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateDecisions:
    """Every gate's decision on one text, the records they make, what the call does next,
    and the context for the next text."""

    route: RouteDecision
    guard: GuardDecision
    handoff: HandoffDecision | None          # finals only
    signals: HandoffSignals | None           # what the handoff gate was given (finals only)
    verdicts: tuple[Verdict, ...]
    action: Action
    profile: str = ""
    reply: str = ""
    queue: str = ""
    context: CallContext = field(default_factory=CallContext)
    selection: ModelSelection | None = None  # finals that reached model selection


def human_requested(text: str) -> bool:
    """An explicit request for a person ("can I speak to someone")."""
    return bool(_HUMAN.search(text) and _ASK.search(text))


def run_gates(router: Router, policy: Policy, text: str, *, final: bool, context: CallContext) -> GateDecisions:
    """Route, Guard, Handoff and model selection on one caller text. Pure: the same text and
    context give the same decisions, in a live call and in ``policy eval``."""
    ctx = context
    shaped = number_shape(text)
    route_d, route_state = route_gate(router, ctx.route, shaped, final=final,
                                      agent_speaking=ctx.agent_speaking, segment=ctx.segment)
    spec = policy.route(route_d.route)
    # A final's sentence embedding, as the route gate's encoder gives it (the shell's cache
    # holds it already), is the risk model's second view: one encoding per final. A final
    # with a threat verb's idiom ("I'll shoot you an email") is read in its literal sense, and
    # one typed without apostrophes ("im ok") as "i'm ok": one more encoding on those finals only.
    embedding = router.embedding(model_words(shaped)) if final else None
    guard_d = guard_input(text, rules=policy.guard_rules or GuardRules(), authenticated=ctx.authenticated,
                          route=spec.name, requires_auth=spec.requires_auth and final, state=ctx.guard,
                          final=final, embedding=embedding)
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
        return GateDecisions(route=route_d, guard=guard_d, handoff=None, signals=None, verdicts=tuple(verdicts),
                             action=Action.NONE, context=replace(ctx, route=route_state))

    amounts = amounts_in(guard_d.redacted)
    signals = HandoffSignals(
        route=spec.name, route_confidence=route_d.confidence, route_outcome=route_d.outcome,
        human_requested=human_requested(guard_d.redacted),
        reask=is_reask(guard_d.redacted, ctx.last_caller_text),
        guard_outcome=guard_d.outcome, guard_reason=guard_d.reason,
        amount=max(amounts) if amounts else None,
        auth_failed=ctx.auth_failed,
    )
    hand_d, handoff_state = handoff_gate(ctx.handoff, signals, policy)
    hand_v = Verdict(gate="handoff", outcome=hand_d.outcome, reason=hand_d.reason, rule=hand_d.rule,
                     evidence=hand_d.to_evidence())
    nxt = replace(ctx, route=route_state, guard=guard_d.state, handoff=handoff_state,
                  last_caller_text=guard_d.redacted, auth_failed=False)
    done = dict(route=route_d, guard=guard_d, signals=signals)
    if hand_d.handoff:
        return GateDecisions(**done, handoff=hand_d, verdicts=(*verdicts, hand_v), action=Action.HANDOFF,
                             reply=REPLIES["handoff"], queue=hand_d.queue or policy.handoff.default_queue,
                             context=nxt)
    if guard_d.outcome in _RESTRICTING:
        return GateDecisions(**done, handoff=hand_d, verdicts=(*verdicts, hand_v), action=Action.SAY,
                             reply=guard_d.safe_reply or "", context=nxt)
    sel = select_model(SelectionInputs(
        route=spec.name, route_outcome=route_d.outcome, route_confidence=route_d.confidence,
        route_profile=spec.profile, guard_outcome=guard_d.outcome, injection=guard_d.injection,
        stt_confidence=ctx.stt_confidence, reasks=handoff_state.reasks, authenticated=ctx.authenticated,
        risk=ctx.risk or guard_d.unsafe, segment=ctx.segment, repeat_caller=ctx.repeat_caller,
    ), policy.model_selection)
    if sel.action == "handoff":
        # The selection's rule is the handoff's reason: the CRM note quotes this record.
        queue = sel.queue or policy.handoff.default_queue
        hand_d = replace(hand_d, handoff=True, outcome="handoff", reason=sel.rule_id, rule=sel.rule, queue=queue,
                         evidence=({"signal": "model_selection", "rule": sel.rule, "matched": dict(sel.matched)},
                                   *hand_d.evidence))
        nxt = replace(nxt, handoff=replace(handoff_state, handed_off=True, reason=sel.rule_id, rule=sel.rule,
                                           queue=queue))
        hand_v = Verdict(gate="handoff", outcome="handoff", reason=hand_d.reason, rule=hand_d.rule,
                         evidence=hand_d.to_evidence())
        return GateDecisions(**done, handoff=hand_d, verdicts=(*verdicts, sel.verdict(), hand_v),
                             action=Action.HANDOFF, reply=REPLIES["handoff"], queue=queue, context=nxt,
                             selection=sel)
    if sel.action == "clarify":
        return GateDecisions(**done, handoff=hand_d, verdicts=(*verdicts, hand_v, sel.verdict()), action=Action.SAY,
                             reply=policy.model_selection.clarify_reply, context=nxt, selection=sel)
    return GateDecisions(**done, handoff=hand_d, verdicts=(*verdicts, hand_v, sel.verdict()), action=Action.RESPOND,
                         profile=sel.profile, context=nxt, selection=sel)


@dataclass
class PolicyGatekeeper:
    policy: Policy
    router: Router
    greeting_text: str
    customer: Customer | None = None
    context: CallContext = field(default_factory=CallContext)
    verified: list[VerifiedField] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    now_ms: int = 0  # call-relative time of the latest event, for "verified at"
    canary: str = field(default_factory=lambda: "tg-canary-" + secrets.token_hex(6))
    _dtmf: str = ""
    _auth_failures: int = 0

    def __post_init__(self) -> None:
        # Customer state for model selection, from the caller's record (flags a CRM sets).
        c = self.customer
        if c is not None:
            flag = {k: c.fields.get(k, "").lower() in ("true", "yes", "1") for k in ("repeat_caller", "risk")}
            self.context = replace(self.context, segment=c.segment,
                                   repeat_caller=self.context.repeat_caller or flag["repeat_caller"],
                                   risk=self.context.risk or flag["risk"])

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def authenticated(self) -> bool:
        return self.context.authenticated

    @property
    def route_state(self) -> RouteState:
        return self.context.route

    @property
    def handoff_state(self) -> HandoffState:
        return self.context.handoff

    def greeting(self) -> str:
        return self.greeting_text

    # ------------------------------------------------------------ caller text
    def caller_text(self, text: str, *, final: bool, agent_speaking: bool,
                    stt_confidence: float | None = None) -> CallerTurnVerdict:
        ctx = replace(self.context, agent_speaking=agent_speaking, stt_confidence=stt_confidence if final else None)
        d = run_gates(self.router, self.policy, text, final=final, context=ctx)
        self.context = d.context
        route = d.route.route
        drift = d.route.outcome == "drift"
        if not final:
            return CallerTurnVerdict(verdicts=d.verdicts, redacted=d.guard.redacted, route=route, drift=drift)
        assert d.handoff is not None and d.signals is not None
        verdicts = d.verdicts
        follow_ups = self._follow_ups(d.handoff, route, d.signals)
        request = f"{route}: {self.policy.route(route).description}"
        if route not in ("unknown", "human") and request not in self.confirmed:
            self.confirmed.append(request)
        note = ""
        memory: tuple[tuple[str, str], ...] = ()
        if d.action == Action.HANDOFF:
            note = build_crm_note(d.handoff, self.policy, route=route, verified=tuple(self.verified),
                                  confirmed_requests=tuple(self.confirmed), signals=d.signals).to_text()
        elif d.action == Action.RESPOND:
            memory, withheld = self._memory(route)
            verdicts += (Verdict(gate="memory", outcome="scope", reason="purpose_filter", rule=f"memory.{route}",
                                 evidence={"sent": [k for k, _ in memory], "withheld": withheld}),)
        return CallerTurnVerdict(verdicts=verdicts, redacted=d.guard.redacted, action=d.action, route=route,
                                 profile=d.profile or "low_latency", reply=d.reply, queue=d.queue, note=note,
                                 drift=drift, memory=memory, follow_ups=follow_ups)

    def preview(self, text: str, *, stt_confidence: float | None = None) -> CallerTurnVerdict:
        """What ``caller_text(text, final=True)`` would decide now, with nothing committed:
        the call's gate state (route, guard, handoff counters, confirmed requests) is as
        before. A speculative answer starts on it; the real decision comes at the turn's end."""
        saved = self.context, list(self.confirmed)
        try:
            return self.caller_text(text, final=True, agent_speaking=False, stt_confidence=stt_confidence)
        finally:
            self.context, self.confirmed = saved

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
        d = guard_output(text, rules=self.policy.guard_rules or GuardRules(), canary=self.canary)
        # If we just asked for a security code or a card number, a bare "four five six"
        # in the answer is that field.
        self.context = replace(self.context, guard=arm_after_prompt(self.context.guard, d.redacted))
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
            self.context = replace(self.context, authenticated=True)
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
        self.context = replace(self.context, auth_failed=True)
        return KeypadVerdict(verdicts=(Verdict(gate="guard", outcome="require_auth", reason="dtmf_pin_mismatch",
                                               rule=rule, evidence={"digits": len(entered),
                                                                    "failures": self._auth_failures}),),
                             reply=REPLIES["mismatch"])

    # ------------------------------------------------------------ failures
    def not_understood(self) -> FailureVerdict:
        # Past the limit the caller is told why before the transfer; under it the call asks again.
        return self._failure_handoff(HandoffSignals(route=self.route_state.held, not_understood=True),
                                     self.handoff_state, handoff_reply=REPLIES["handoff"])

    def generation_failed(self, profile: str, reason: str, attempts: int) -> FailureVerdict:
        limit = self.policy.handoff.provider_failure_limit
        if attempts < limit and profile != "fallback":
            return FailureVerdict(verdicts=(Verdict(gate="model", outcome="fallback", reason="provider_error",
                                                    rule="model.fallback",
                                                    evidence={"from": profile, "to": "fallback",
                                                              "error": reason[:120], "attempt": attempts}),),
                                  fallback_profile="fallback")
        # Every failed attempt counts, so the gate sees the policy's threshold crossed.
        state = replace(self.handoff_state, provider_failures=self.handoff_state.provider_failures + attempts - 1)
        return self._failure_handoff(HandoffSignals(route=self.route_state.held, provider_failed=True), state,
                                     stay_reply="Sorry, I am having trouble right now. Could you say that again?")

    def _failure_handoff(self, signals: HandoffSignals, state: HandoffState, *, stay_reply: str = "",
                         handoff_reply: str = "") -> FailureVerdict:
        """The Handoff gate on a turn that went wrong: stay (with ``stay_reply``) or hand off."""
        hand_d, state = handoff_gate(state, signals, self.policy)
        self.context = replace(self.context, handoff=state)
        v = Verdict(gate="handoff", outcome=hand_d.outcome, reason=hand_d.reason, rule=hand_d.rule,
                    evidence=hand_d.to_evidence())
        if not hand_d.handoff:
            return FailureVerdict(verdicts=(v,), reply=stay_reply)
        note = build_crm_note(hand_d, self.policy, route=self.route_state.held, verified=tuple(self.verified),
                              confirmed_requests=tuple(self.confirmed), signals=signals)
        return FailureVerdict(verdicts=(v,), queue=hand_d.queue or self.policy.handoff.default_queue,
                              note=note.to_text(), reply=handoff_reply,
                              follow_ups=self._follow_ups(hand_d, self.route_state.held, signals))

    def _follow_ups(self, d: HandoffDecision, route: str | None, signals: HandoffSignals) -> tuple[FollowUp, ...]:
        return tuple(FollowUp(kind=t.kind, queue=t.queue or self.policy.handoff.default_queue,
                              reason=d.reason if d.handoff else f"route_{route}",
                              evidence=tuple(dict(e) for e in t.evidence))
                     for t in follow_up_tasks(d, self.policy, route=route, signals=signals))



def keeper_factory(policy: Policy, greeting: str, directory: CustomerDirectory | None = None, *,
                   encoder: Any = None):
    """Build the per-call gatekeeper factory; the router is trained once, here.

    ``encoder`` is the route gate's sentence encoder as the shell wraps it (cached, warmed
    off the event loop: ``embedding.cache.for_policy``); None lets the router load its own."""
    from .guard.injection import load_model
    from .guard.risk import load_risk_head, load_risk_model

    router = Router.from_policy(policy, encoder=encoder)
    # The guard's models are loaded once here, not on the first caller's first words.
    if load_model() is None:
        raise ConfigError("the injection model (turngate/data/guard_injection.json.gz) is missing from the package")
    if load_risk_model() is None:
        raise ConfigError("the risk model (turngate/data/guard_risk.json.gz) is missing from the package")
    load_risk_head()  # optional: without it (or without an encoder) the n-gram model decides alone
    directory = directory or CustomerDirectory.bundled()

    def make(parameters: Mapping[str, str]) -> PolicyGatekeeper:
        return PolicyGatekeeper(policy=policy, router=router, greeting_text=greeting,
                                customer=directory.lookup(parameters.get("from", "")))

    # The shell calls this in a worker thread with each final before the core sees it.
    # It warms the text the Route gate will read (numbers in their fixed shape) and, where it
    # differs (a threat verb's idiom, a bare contraction), the text the risk view reads.
    warm = getattr(encoder, "warm", None)
    make.prefetch = (lambda text: _warm_final(warm, number_shape(text))) if warm else None  # type: ignore[attr-defined]
    return make


def _warm_final(warm, shaped: str) -> None:
    warm(shaped)
    if (words := model_words(shaped)) != shaped:
        warm(words)
