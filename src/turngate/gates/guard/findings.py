"""The values the Guard gate returns: findings, the carried state and the decision."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Outcome = Literal["allow", "redact", "block", "require_auth", "escalate", "check"]

ENTITY_TYPES: tuple[str, ...] = (
    "CARD_NUMBER", "CVV", "SSN", "DATE_OF_BIRTH", "PHONE", "EMAIL", "ACCOUNT_NUMBER",
    "CARD_EXPIRY", "CREDENTIAL",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One detected entity: its type, the character span in the input, the rule id."""

    type: str
    start: int
    end: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "rule": self.rule}


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardState:
    """What one caller turn leaves for the next, so a number read over two turns is caught.

    ``carry`` holds the trailing digits of the previous final (at most 18, only
    when they could be the start of a card or an armed field) and lives one
    turn. It is raw PII: ``repr`` hides it and ``evidence`` never sees it.
    ``armed`` names the fields whose cue ("security code", "card number", ...)
    ended the previous turn or the agent's last question (see ``arm``).
    ``checking``: the previous final raised a self-harm concern and the caller was asked
    whether they are safe; this final is the answer (``welfare.answer``).
    """

    carry: str = field(default="", repr=False)
    armed: frozenset[str] = frozenset()
    checking: bool = False

    def arm(self, kinds: frozenset[str]) -> GuardState:
        return replace(self, armed=self.armed | kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardDecision:
    """The Guard gate's decision for one text. It is the decision-log record's body.

    ``redacted`` is always the text to log or send on, whatever the outcome.
    """

    outcome: Outcome
    reason: str
    rule: str
    findings: tuple[Finding, ...] = ()
    redacted: str = ""
    injection: bool = False
    unsafe: bool = False
    safe_reply: str | None = None
    score: float = 0.0
    state: GuardState = field(default_factory=GuardState)
    risk: Any = None  # risk.RiskVerdict when a risk detector fired

    def evidence(self) -> dict[str, Any]:
        """Types, spans, rule ids and the redacted text: never the raw values."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "redacted": self.redacted,
            "injection": self.injection,
            "unsafe": self.unsafe,
            "injection_score": round(self.score, 3),
            "armed": sorted(self.state.armed),
            **({"risk": self.risk.evidence()} if self.risk is not None else {}),
        }
