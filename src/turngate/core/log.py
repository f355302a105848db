"""The call's decision records: numbered in order, timed in ms from the call's start,
stamped with the policy version. Every sub-machine of a call writes through one log,
so a record's ``seq`` is the order in which the call decided."""

from __future__ import annotations

from typing import Any

from .actions import Action, WriteDecision
from .decisions import Decision, Verdict


class DecisionLog:
    def __init__(self, call_id: str, policy_version: str, t0: float = 0.0) -> None:
        self.call_id = call_id
        self.policy_version = policy_version
        self.t0 = t0
        self.decisions: list[Decision] = []  # kept for the call's summary and tests

    def ms(self, now: float) -> int:
        return int(round((now - self.t0) * 1000))

    def record(self, v: Verdict, now: float, out: list[Action]) -> None:
        d = Decision(call_id=self.call_id, seq=len(self.decisions) + 1, at_ms=self.ms(now), gate=v.gate,
                     outcome=v.outcome, reason=v.reason, rule=v.rule,
                     policy_version=self.policy_version, evidence=dict(v.evidence))
        self.decisions.append(d)
        out.append(WriteDecision(decision=d))

    def decide(self, gate: str, outcome: str, reason: str, rule: str, now: float, out: list[Action],
               **evidence: Any) -> None:
        self.record(Verdict(gate=gate, outcome=outcome, reason=reason, rule=rule, evidence=evidence), now, out)
