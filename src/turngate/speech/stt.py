"""The streaming speech-to-text contract.

The asyncio shell calls a stream from a worker thread, one stream per call and
one call per stream, so a stream needs no locking of its own; an engine is
shared by every call of the process and must hand out streams thread-safely.

Timeline of one caller turn::

    stream.start_utterance()
    stream.feed(pcm) -> [SttResult(is_final=False), ...]   # partials, as they change
    ...
    stream.end_utterance() -> SttResult(is_final=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from turngate.core.events import WordTime

__all__ = ["SttResult", "SttStream", "SttEngine"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SttResult:
    """One hypothesis of the current utterance.

    ``words`` carry times in ms relative to the start of the utterance (the
    first sample fed after ``start_utterance``); ``audio_ms`` is how much audio
    of the utterance the recogniser had consumed when it produced this result,
    so the shell can tell how far behind the audio a partial is.
    """

    text: str
    is_final: bool
    confidence: float | None = None  # 0..1; None: the provider gives no measure (never read as low)
    words: tuple[WordTime, ...] = ()
    audio_ms: int = 0


@runtime_checkable
class SttStream(Protocol):
    def start_utterance(self) -> None:
        """Begin a new utterance; discards any unfinished one."""

    def feed(self, pcm8k: np.ndarray) -> list[SttResult]:
        """Consume int16 8 kHz mono audio of any length; return new partials (maybe none)."""

    def end_utterance(self) -> SttResult:
        """Finish the utterance and return its final result (text may be empty)."""

    def close(self) -> None:
        """Release the stream's recogniser; the stream is unusable afterwards."""


@runtime_checkable
class SttEngine(Protocol):
    def new_stream(self) -> SttStream:
        """A stream for one call. Thread-safe."""
