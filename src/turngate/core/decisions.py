"""The decision record: one row of the decision log, per decision, per gate.

Gates return typed decisions; the call stamps them with call id, sequence,
call-relative time and policy version, and the result is this record. The same
record is what the log stores and what ``calls why`` reads, so the reason in the
log can never drift from the reason that acted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Gate = Literal["turn", "route", "guard", "model", "handoff", "memory", "transport"]
GATES: tuple[Gate, ...] = ("turn", "route", "guard", "model", "handoff", "memory", "transport")

# Every outcome a gate may record, by gate. A closed set: a new outcome is added here.
RouteOutcome = Literal["route", "hold", "drift", "unknown"]
GuardOutcome = Literal["allow", "redact", "block", "require_auth", "escalate", "check", "authenticated",
                       "unavailable"]
ModelOutcome = Literal["select", "selected", "fallback", "timeout", "tts_failed", "empty"]
HandoffOutcome = Literal["stay", "handoff", "transfer"]
MemoryOutcome = Literal["scope"]
TurnOutcome = Literal["call_started", "ended", "caller_started", "yield", "partial_used", "no_transcript",
                      "end_of_turn", "no_words", "pause", "resume", "abandon", "agent_started", "agent_done",
                      "dtmf", "hold"]
TransportOutcome = Literal["rejected"]
Outcome = (RouteOutcome | GuardOutcome | ModelOutcome | HandoffOutcome | MemoryOutcome | TurnOutcome
           | TransportOutcome)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    call_id: str
    seq: int
    at_ms: int
    gate: Gate
    outcome: Outcome
    reason: str
    rule: str
    policy_version: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What a gate decided, before the call stamps it into a ``Decision``."""

    gate: Gate
    outcome: Outcome
    reason: str
    rule: str
    evidence: dict[str, Any] = field(default_factory=dict)


# The handoff gate decides "handoff" (or "stay"); the core records "transfer" when the
# announced transfer goes out. One rule for the call's outcome, used by the gateway when
# a call ends and by `turngate calls`.
HANDOFF_OUTCOMES = frozenset({"handoff", "transfer"})


def is_handoff(d: Decision) -> bool:
    return d.gate == "handoff" and d.outcome in HANDOFF_OUTCOMES


def call_outcome(decisions: Iterable[Decision]) -> str:
    """``handoff`` if a person took (or is taking) the call, else ``completed``."""
    return "handoff" if any(is_handoff(d) for d in decisions) else "completed"
