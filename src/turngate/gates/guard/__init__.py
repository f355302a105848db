"""The Guard gate: PII (written and spoken), never-send fields, prompt injection,
unsafe requests and the authentication check for the route.

    numbers     spoken and written numbers -> digit runs with character spans
    cues        the words that say what a number is ("security code", "born")
    cards       issuer prefixes, lengths, Luhn
    dates       written and spoken dates
    contact     e-mail, IBAN, phone plausibility
    entities    the detector: cards, CVV, SSN, dates of birth, phone, e-mail, accounts
    injection   prompt injection and authority claims (patterns + linear model)
    risk        self-harm, threats, requests for harm
    rules       GuardRules, from the policy's ``guard:`` section
    findings    Finding, GuardState, GuardDecision
    gate        guard_input, guard_output, arm_after_prompt
"""

from .findings import ENTITY_TYPES, Finding, GuardDecision, GuardState
from .gate import arm_after_prompt, guard_input, guard_output, redact
from .rules import GuardRules

__all__ = [
    "ENTITY_TYPES", "Finding", "GuardDecision", "GuardRules", "GuardState",
    "arm_after_prompt", "guard_input", "guard_output", "redact",
]
