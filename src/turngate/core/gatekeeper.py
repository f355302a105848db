"""The narrow interface between the call core and the gates.

The core knows *when* the gates must decide (every partial, every final, every
sentence of model output); the gatekeeper knows *what* they decide. It holds the
per-call gate states (route hysteresis, guard carry-over, handoff counters) and
returns verdicts; it never does I/O. ``turngate.gates.pipeline.PolicyGatekeeper`` is
the real one; ``turngate.testing.OpenGatekeeper`` lets everything through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .decisions import Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUp:
    kind: str
    queue: str
    reason: str
    evidence: tuple[dict[str, object], ...] = ()


class Action(StrEnum):
    """What the call does next with a caller's text (``CallerTurnVerdict.action``).

    A ``StrEnum``: each member equals its string, so ``match v.action: case "say"`` and
    ``v.action == "handoff"`` work unchanged."""

    RESPOND = "respond"
    SAY = "say"
    HANDOFF = "handoff"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerTurnVerdict:
    """The gates' answer to a caller's text (a partial or the final of a turn).

    ``action`` says what the call does next:
      respond  - start a model generation on ``route`` with ``profile``
      say      - speak ``reply`` without a model (a guard's safe reply, an auth prompt)
      handoff  - say ``reply`` (if any), then transfer to ``queue`` with ``note``
      none     - nothing yet (partials)
    ``drift`` is set when the route changed with margin mid-turn or mid-answer.
    """

    verdicts: tuple[Verdict, ...]
    redacted: str
    action: Action = Action.NONE
    route: str = "unknown"
    profile: str = "low_latency"
    reply: str = ""
    queue: str = ""
    note: str = ""
    drift: bool = False
    memory: tuple[tuple[str, str], ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTextVerdict:
    verdicts: tuple[Verdict, ...]
    text: str            # what may be spoken (masked where needed)
    blocked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureVerdict:
    """What to do when a generation failed (a fallback profile, or a handoff), or when a
    caller's turn came back with no words (stay, or a handoff)."""

    verdicts: tuple[Verdict, ...]
    fallback_profile: str = ""
    reply: str = ""
    queue: str = ""
    note: str = ""
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeypadVerdict:
    """What a keypad digit decided (a PIN check when ``#`` ends it), and what to say."""

    verdicts: tuple[Verdict, ...] = ()
    reply: str = ""


class Gatekeeper(Protocol):
    policy_version: str

    def caller_text(self, text: str, *, final: bool, agent_speaking: bool,
                    stt_confidence: float | None = None) -> CallerTurnVerdict:
        """``stt_confidence``: the recogniser's confidence in a final turn's words (None: no
        measure); model selection reads a low one as an uncertain turn."""
        ...

    def preview(self, text: str, *, stt_confidence: float | None = None) -> CallerTurnVerdict:
        """What ``caller_text(text, final=True, agent_speaking=False)`` would decide, with no
        state changed (a speculative answer starts on it; ``core/speculation.py``)."""
        ...

    def agent_text(self, text: str) -> AgentTextVerdict: ...

    def dtmf(self, digit: str, at_ms: int) -> KeypadVerdict: ...

    def generation_failed(self, profile: str, reason: str, attempts: int) -> FailureVerdict: ...

    def not_understood(self) -> FailureVerdict:
        """A turn of the caller's speech came back with no words: stay (the call asks again)
        or, past the policy's limit of such turns in a row, a person (``queue``, ``note``, and
        ``reply`` to say before the transfer)."""
        ...

    def greeting(self) -> str: ...

