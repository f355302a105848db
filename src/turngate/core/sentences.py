"""Sentence splitting for streamed model text: TTS starts on the first sentence
while the model is still writing the rest. ``speech.tts.split_sentences`` is this
same function on a whole text."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space, unless
# the word before the dot is a common abbreviation or a single letter ("Dr.", "e.g.",
# "J. Smith"); decimals ("3.50") never match because no space follows.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof inc ltd co vs etc approx no dept e.g i.e a.m p.m".split()
)
_END = re.compile(r"""[.!?]+["')\]]*\s+""")
MAX_CHARS = 220  # a very long clause is split at a comma so first audio is not delayed


def pop_sentences(buf: str, *, final: bool) -> tuple[list[str], str]:
    """Complete sentences at the head of ``buf`` and the unfinished rest
    (with ``final``, the rest is the last sentence)."""
    out: list[str] = []
    pos = 0
    for m in _END.finditer(buf):
        head = buf[pos:m.start()]
        last = head.rsplit(None, 1)[-1].lower() if head.strip() else ""
        if buf[m.start()] == "." and (last in _ABBREVIATIONS or len(last.rstrip(".")) == 1):
            continue
        s = buf[pos:m.end()].strip()
        if s:
            out.append(s)
        pos = m.end()
    rest = buf[pos:]
    while len(rest) > MAX_CHARS:
        cut = rest.rfind(", ", 0, MAX_CHARS)
        if cut < 40:
            break
        out.append(rest[: cut + 1].strip())
        rest = rest[cut + 2:]
    if final and rest.strip():
        out.append(rest.strip())
        rest = ""
    return out, rest
