"""Sentence splitting for streamed model text: TTS starts on the first sentence
while the model is still writing the rest."""

from __future__ import annotations

import re

# A sentence ends at . ! ? followed by a space, unless the dot belongs to a number
# ("3.5") or a common abbreviation ("Mr.", "Dr.", "e.g.").
_END = re.compile(r"(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bMs)(?<!\be\.g)(?<!\bi\.e)(?<!\bSt)[.!?]+[\"')\]]*\s+")
MAX_CHARS = 220  # a very long clause is split at a comma so first audio is not delayed


def pop_sentences(buf: str, *, final: bool) -> tuple[list[str], str]:
    """Complete sentences at the head of ``buf`` and the unfinished rest."""
    out: list[str] = []
    pos = 0
    for m in _END.finditer(buf):
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
