"""guard_input and guard_output: the Guard gate's two pure entry points.

Outcome precedence on caller text, strongest first:

    escalate      self-harm, a threat or abuse of the agent: always, whatever the
                  policy says (a person takes over; a caring reply for self-harm);
                  also a caller who, asked whether they are safe, did not say no
    check         a self-harm concern short of a verdict (``risk.WELFARE_CHECK_BELOW``):
                  the caller is asked, directly, and the next final answers (``welfare``)
    block         prompt injection / authority claim, a request for harm, or an
                  entity whose input action is ``block``
    require_auth  the route needs an authenticated caller and this one is not
    redact        PII found and replaced in ``redacted``
    allow

Whatever the outcome, ``redacted`` is the text that may be logged or sent to a
model. Authentication is only ever an input here: nothing a caller says, not
"I'm the supervisor", changes it, so the check holds even when the injection
detector misses or the policy sets ``injection: flag``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .cues import find_cues
from .entities import detect
from .findings import Finding, GuardDecision, GuardState
from .injection import detect_injection
from .numbers import digit_runs, tokenize
from .risk import PERSON_KINDS, RiskVerdict, assess_risk
from .rules import GuardRules
from .welfare import answer

_ARMABLE = ("card", "cvv", "ssn", "dob", "account", "phone", "credential")


def guard_input(
    text: str,
    *,
    rules: GuardRules,
    authenticated: bool,
    route: str,
    requires_auth: bool,
    state: GuardState | None = None,
    final: bool = False,
    embedding: np.ndarray | None = None,
) -> GuardDecision:
    """Decide on one caller text (a cumulative partial or a final).

    ``final=True`` marks a final transcript: only then does the risk model run
    (a partial such as "I could kill ..." is not yet what the caller said; the
    risk patterns run on every text). ``embedding`` is the final's sentence
    embedding when the Route gate computed one (the risk model's second view).

    ``decision.state`` is the state to pass with the *next turn's* texts: keep
    it from finals only (a partial's state would carry a half-read number twice).
    """
    state = state or GuardState()
    scan = detect(text, carry=state.carry, armed=state.armed)
    findings = tuple(f for f in scan.findings if rules.action(f.type, "input") != "allow")
    blocked = [f for f in findings if rules.action(f.type, "input") == "block"]
    redacted = redact(text, findings)
    new_state = GuardState(carry=scan.tail_digits, armed=scan.tail_armed)

    inj = detect_injection(text, threshold=rules.injection_threshold, findings=findings)
    verdict = assess_risk(text, final=final, embedding=embedding if final else None)
    risk = verdict.kind
    common = dict(findings=findings, redacted=redacted, injection=inj.injection, unsafe=bool(risk),
                  score=inj.score, state=new_state, risk=verdict if risk else None)

    if risk in PERSON_KINDS:
        # Risk to a person always reaches a person: no policy setting turns this off.
        return GuardDecision(outcome="escalate", reason=risk, rule=f"guard.risk.{risk}.{verdict.source}",
                             safe_reply=rules.reply(risk), **common)
    if final and state.checking and not risk:
        # The answer to "are you thinking about harming yourself?": a yes, anything short of
        # a no, or words that raise the concern again ("no, but I'm so tired of everything")
        # reach a person.
        said = answer(text)
        if said == "yes" or verdict.concern:
            how = "answered" if said == "yes" else "concern_again"
            return GuardDecision(outcome="escalate", reason="self_harm_check",
                                 rule=f"guard.risk.self_harm.welfare_check_{how}", safe_reply=rules.reply("self_harm"),
                                 **{**common, "unsafe": True,
                                    "risk": RiskVerdict("self_harm", f"welfare_check_{how}", verdict.score)})
    if final and verdict.concern and not risk:
        return GuardDecision(outcome="check", reason="self_harm_concern", rule="guard.risk.self_harm.welfare_check",
                             safe_reply=rules.reply("welfare_check"),
                             **{**common, "state": replace(new_state, checking=True), "risk": verdict})
    if inj.injection and rules.injection != "flag":
        outcome = "escalate" if rules.injection == "escalate" else "block"
        key = "authority_claim" if inj.reason in ("authority_claim", "policy_invention") else "injection"
        return GuardDecision(outcome=outcome, reason=inj.reason, rule=f"guard.injection.{inj.reason}",
                             safe_reply=rules.reply(key), **common)
    if risk == "harmful_request" and rules.unsafe != "flag":
        return GuardDecision(outcome="block", reason=risk, rule=f"guard.unsafe.{risk}",
                             safe_reply=rules.reply(risk), **common)
    if blocked:
        return GuardDecision(outcome="block", reason="entity_blocked", rule=blocked[0].rule,
                             safe_reply=rules.reply("entity_block"), **common)
    if requires_auth and not authenticated:
        return GuardDecision(outcome="require_auth", reason="auth_required", rule=f"guard.auth.{route}",
                             safe_reply=rules.reply("require_auth"), **common)
    if findings:
        return GuardDecision(outcome="redact", reason="pii_redacted", rule=findings[0].rule, **common)
    return GuardDecision(outcome="allow", reason="clean", rule="guard.allow", **common)


def guard_output(text: str, *, rules: GuardRules, canary: str) -> GuardDecision:
    """Check model output before TTS: mask cards to the last four, redact or block
    never-send fields, and block a reply that leaks the system prompt's canary."""
    scan = detect(text)
    findings: list[Finding] = []
    blocked: list[Finding] = []
    for f in scan.findings:
        act = rules.action(f.type, "output")
        if act == "allow":
            continue
        findings.append(f)
        if act == "block":
            blocked.append(f)
    masks = {
        i: _last_four(text, f) for i, f in enumerate(findings)
        if rules.action(f.type, "output") == "mask_last4"
    }
    redacted = redact(text, tuple(findings), masks)
    common = dict(findings=tuple(findings), redacted=redacted)
    if canary and _leaks(text, canary):
        return GuardDecision(outcome="block", reason="canary_leak", rule="guard.output.canary_leak",
                             safe_reply=rules.reply("output_blocked"),
                             **{**common, "redacted": rules.reply("output_blocked")})
    if blocked:
        return GuardDecision(outcome="block", reason="never_send_in_output", rule=blocked[0].rule,
                             safe_reply=rules.reply("output_blocked"), **common)
    if findings:
        masked = any(i in masks for i in range(len(findings)))
        return GuardDecision(outcome="redact", reason="masked_last4" if masked else "pii_redacted",
                             rule=findings[0].rule, **common)
    return GuardDecision(outcome="allow", reason="clean", rule="guard.allow", **common)


def arm_after_prompt(state: GuardState, agent_text: str) -> GuardState:
    """Arm the fields the agent just asked for ("What's the security code?"), so
    a bare "four five six" in the caller's answer is caught as a CVV."""
    tail = agent_text[-120:]
    kinds = frozenset(c.kind for c in find_cues(tail) if c.kind in _ARMABLE)
    return state.arm(kinds) if kinds else state


def redact(text: str, findings: tuple[Finding, ...], masks: dict[int, str] | None = None) -> str:
    """Replace each finding's span with ``[TYPE]`` (or its mask); overlaps merge."""
    if not findings:
        return text
    masks = masks or {}
    order = sorted(range(len(findings)), key=lambda i: (findings[i].start, -findings[i].end))
    out: list[str] = []
    pos = 0
    for i in order:
        f = findings[i]
        if f.end <= pos:
            continue
        start = max(f.start, pos)
        out.append(text[pos:start])
        out.append(masks.get(i) or f"[{f.type}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def _last_four(text: str, f: Finding) -> str:
    digits = "".join(r.digits for r in digit_runs(tokenize(text[f.start:f.end])))
    return f"ending in {digits[-4:]}" if len(digits) >= 4 else f"[{f.type}]"


def _leaks(text: str, canary: str) -> bool:
    # Squash case, spaces and punctuation: a model may spell or space the canary out.
    def squash(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    c = squash(canary)
    return bool(c) and c in squash(text)
