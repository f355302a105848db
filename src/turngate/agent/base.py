"""The agent contract: a generation streams text deltas and can be cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationRequest:
    generation: int
    context: tuple[dict[str, str], ...]  # redacted, truncated to what the caller heard
    route: str
    profile: str
    memory: tuple[tuple[str, str], ...] = ()
    # A fallback after the caller heard part of an answer: what was said. The answer
    # continues from there and must not say it again.
    continue_from: str = ""
    # False when the gates redacted the caller's turn: a speech-to-speech model then gets
    # the redacted text, never the caller's audio.
    send_audio: bool = True


class Agent(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield text deltas. Cancellation (barge-in) arrives as ``CancelledError``."""
        ...
