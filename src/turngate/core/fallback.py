"""Model fallback as a policy: the policy decides, the generation acts.

The policy's ``models:`` section names, per profile, a time-to-first-token budget
(``first_token_ms``) and a fallback chain (``fallback: {low_latency: [backup, scripted]}``).
``FallbackPolicy`` answers two questions and does nothing else:

- when must a stalled attempt be hedged (``first_token_ms``), and
- which profile is next for a generation that started on ``root`` and has tried ``tried``.

A hedge does not cancel the stalled attempt: both run and the first to stream text
wins, the other is cancelled (a stall before the first token is the failure a
plain retry never sees). A profile the section does not name has no chain; then the
gates decide (``Gatekeeper.generation_failed``), as without a models section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelBudget:
    first_token_ms: int | None = None  # hedge with the next profile after this long without text
    total_ms: int | None = None        # the whole answer's text must have arrived by then


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackPolicy:
    budgets: Mapping[str, ModelBudget] = field(default_factory=dict)
    chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def budget(self, profile: str) -> ModelBudget:
        return self.budgets.get(profile) or ModelBudget()

    def next_profile(self, root: str, tried: Sequence[str]) -> str | None:
        for name in self.chains.get(root, ()):
            if name not in tried:
                return name
        return None
