"""The text-to-speech contract, and sentence splitting for streamed synthesis.

The shell synthesizes an answer sentence by sentence (``split_sentences``) so
the first audio goes out while the rest is still being written or synthesized.
Word times let the core truncate the agent's turn to what the caller heard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from turngate.core.events import WordTime

__all__ = ["Synthesis", "TtsEngine", "split_sentences"]


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


# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space,
# unless the word before the dot is a common abbreviation or a single letter
# ("Dr.", "e.g.", "J. Smith"); decimals ("3.50") never match because no space follows.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof inc ltd co vs etc approx no dept e.g i.e a.m p.m".split()
)
_END = re.compile(r"""[.!?]+["')\]]*\s+""")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping their punctuation; never returns empty pieces."""
    out: list[str] = []
    start = 0
    for m in _END.finditer(text):
        head = text[start:m.start()]
        last = head.rsplit(None, 1)[-1].lower() if head.strip() else ""
        if text[m.start()] == "." and (last in _ABBREVIATIONS or len(last.rstrip(".")) == 1):
            continue
        piece = text[start:m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out
