"""The Guard gate: PII (written and spoken), never-send fields, prompt injection,
unsafe requests and the authentication check for the route.

    numbers     spoken and written numbers -> digit runs with character spans
    entities    cards, CVV, SSN, dates of birth, phone, e-mail, accounts (tier 0)
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
