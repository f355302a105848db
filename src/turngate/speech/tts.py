"""The text-to-speech contract, and sentence splitting for streamed synthesis.

The shell synthesizes an answer sentence by sentence (``split_sentences``) so
the first audio goes out while the rest is still being written or synthesized.
Word times let the core truncate the agent's turn to what the caller heard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from turngate.audio import mulaw
from turngate.audio.level import chunk_levels_db, level_db
from turngate.core.events import SpeechSynthesized, WordTime
from turngate.core.sentences import pop_sentences

__all__ = ["Synthesis", "TtsEngine", "split_sentences", "synthesized_event"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Synthesis:
    """Audio of one piece of text, ready for Twilio: 8 kHz G.711 mu-law bytes.

    ``words`` are the text's whitespace tokens with start/end ms in ``audio``;
    ``words_estimated`` says they were apportioned rather than measured.
    """

    text: str
    audio: bytes
    sample_rate: int = 8000
    words: tuple[WordTime, ...] = ()
    words_estimated: bool = False

    @property
    def duration_ms(self) -> int:
        return len(self.audio) * 1000 // self.sample_rate


@runtime_checkable
class TtsEngine(Protocol):
    def synthesize(self, text: str) -> Synthesis:
        """Speak ``text``; thread-safe, blocking."""


def synthesized_event(generation: int, segment: int, text: str, audio: bytes,
                      words: tuple[WordTime, ...] = ()) -> SpeechSynthesized:
    """The core's event for one synthesized segment, with the levels of its audio that
    tell the core how loud our own echo can be."""
    pcm = mulaw.decode(audio)
    return SpeechSynthesized(generation=generation, segment=segment, text=text, audio=audio, words=words,
                             level_db=level_db(pcm), chunk_levels_db=chunk_levels_db(pcm))


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping their punctuation; never returns empty pieces.
    The same rule the call core applies to streamed model text."""
    return pop_sentences(text, final=True)[0]
