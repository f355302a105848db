"""Spoken and written numbers as digit runs with character spans.

Theory of operation. A speech recogniser writes "four one one one", "forty one
eleven", "oh", "double five", "twenty twenty" or "4111 one one one"; a keyboard
writes "4111-1111". Entity detection wants one thing from all of these: runs of
digits, and for every digit the span of text it came from, so a finding can be
redacted in the original text. ``digit_runs`` walks the tokens once and groups
number words and digit tokens into runs. A run continues across separators a
reader or a recogniser puts between groups (spaces, commas, hyphens, dots,
brackets, "uh", "dash") and stops at any other word.

Each run is a tuple of chunks. A chunk is what one spoken group or one digit
token stands for: "four" -> "4", "forty one" -> "41", "double five" -> "55",
"nineteen hundred eighty" -> "1980", "4111" -> "4111". Detectors concatenate
the chunk digits and map a digit range back to characters through the chunks.

Why a hand-written table and not ``text2num`` (which is fast, ~10 us): it gives
no character offsets (redaction needs them), leaves "oh", "double" and
"triple" as words, and turns "nineteen eighty" into "19 80" tokens anyway. The
table below is a few dict lookups per token, so tier 0 stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

UNITS: dict[str, int] = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "naught": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
REPEAT: dict[str, int] = {"double": 2, "triple": 3, "treble": 3, "quadruple": 4}
ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}
HOMOPHONES: dict[str, str] = {"to": "2", "too": "2", "for": "4", "fore": "4", "won": "1", "ate": "8"}
# Words a caller or recogniser drops between digit groups without ending the number.
FILLERS = frozenset({"uh", "um", "er", "erm", "ah", "dash", "hyphen"})
# Characters that may sit between digit groups ("4111-1111", "(541) 714", "1,234").
SEPARATORS = frozenset("-,.()+/")
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEAT) | {
    "hundred", "thousand"
}

TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+|\S", re.UNICODE)


# NamedTuples, not frozen dataclasses: a token is made per word per partial, and a
# frozen dataclass costs about four times as much to build.
class Token(NamedTuple):
    text: str  # lower-cased
    start: int
    end: int


class Chunk(NamedTuple):
    digits: str
    start: int
    end: int
    spoken: bool


@dataclass(frozen=True, slots=True)
class Run:
    """A run of digits. ``seps`` holds the separator text between chunks.

    ``digits``, ``start``, ``end`` and ``spoken`` are computed once: detectors read
    them many times per partial."""

    chunks: tuple[Chunk, ...]
    seps: tuple[str, ...]
    digits: str = field(init=False)
    start: int = field(init=False)
    end: int = field(init=False)
    spoken: bool = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "digits", "".join(c.digits for c in self.chunks))
        set_(self, "start", self.chunks[0].start)
        set_(self, "end", self.chunks[-1].end)
        set_(self, "spoken", any(c.spoken for c in self.chunks))

    def boundaries(self) -> list[int]:
        """Digit offsets at which a chunk starts (plus the total length)."""
        out = [0]
        n = 0
        for c in self.chunks:
            n += len(c.digits)
            out.append(n)
        return out

    def span_of(self, lo: int, hi: int) -> tuple[int, int]:
        """Character span covering digits ``lo:hi`` of ``self.digits``."""
        start = end = -1
        n = 0
        for c in self.chunks:
            m = n + len(c.digits)
            if start < 0 and lo < m:
                # Inside a written digit token characters map one to one.
                start = c.start + (lo - n if not c.spoken else 0)
            if hi <= m:
                end = c.end - (m - hi if not c.spoken else 0)
                break
            n = m
        return start, end


_new = tuple.__new__


def tokenize(text: str) -> list[Token]:
    low = text.lower()
    if len(low) != len(text):  # a few characters change length when lower-cased
        return [Token(m.group().lower(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    # tuple.__new__ skips the NamedTuple constructor: this runs per word per partial
    return [_new(Token, (m[0], m.start(), m.end())) for m in TOKEN_RE.finditer(low)]


def _words_value(words: list[Token], i: int) -> tuple[str, int] | None:
    """Parse one spoken group starting at ``words[i]``; return (digits, next index)."""
    w = words[i].text
    n = len(words)
    nxt = words[i + 1].text if i + 1 < n else ""
    if w in REPEAT:
        if nxt in UNITS:
            return str(UNITS[nxt]) * REPEAT[w], i + 2
        return None
    # A compound below one hundred: "forty one", "nineteen", "seven".
    val: int | None = None
    j = i
    if w in TENS:
        val = TENS[w]
        j = i + 1
        if nxt in UNITS and UNITS[nxt] and nxt not in ("o", "oh"):
            val += UNITS[nxt]
            j = i + 2
    elif w in TEENS:
        val, j = TEENS[w], i + 1
    elif w in UNITS:
        if w in ("o", "oh"):
            return "0", i + 1
        val, j = UNITS[w], i + 1
    if val is None:
        return None
    # "four hundred thirteen", "nineteen hundred eighty", "two thousand and nine".
    if j < n and words[j].text in ("hundred", "thousand") and val:
        mult = 100 if words[j].text == "hundred" else 1000
        total = val * mult
        k = j + 1
        if k < n and words[k].text == "and":
            k += 1
        rest = _below_hundred(words, k) if mult == 100 else _below_thousand(words, k)
        if rest is not None:
            total += rest[0]
            k = rest[1]
        elif k > j + 1:  # a dangling "and" belongs to the sentence
            k = j + 1
        return str(total), k
    return str(val), j


def _below_hundred(words: list[Token], i: int) -> tuple[int, int] | None:
    if i >= len(words):
        return None
    w = words[i].text
    if w in TENS:
        v = TENS[w]
        if i + 1 < len(words) and words[i + 1].text in UNITS and UNITS[words[i + 1].text]:
            return v + UNITS[words[i + 1].text], i + 2
        return v, i + 1
    if w in TEENS:
        return TEENS[w], i + 1
    if w in UNITS and w not in ("o", "oh") and UNITS[w]:
        return UNITS[w], i + 1
    return None


def _below_thousand(words: list[Token], i: int) -> tuple[int, int] | None:
    first = _below_hundred(words, i)
    if first is None:
        return None
    v, j = first
    if v < 10 and j < len(words) and words[j].text == "hundred":
        k = j + 1
        if k < len(words) and words[k].text == "and":
            k += 1
        rest = _below_hundred(words, k)
        if rest is not None:
            return v * 100 + rest[0], rest[1]
        return v * 100, j + 1
    return v, j


def _is_number_token(t: str) -> bool:
    return t.isdigit() or t in NUMBER_WORDS


def _glued(tokens: list[Token], i: int) -> bool:
    """A digit token stuck to letters ("U6292878", "A1") is an identifier, not a number."""
    tok = tokens[i]
    if i > 0 and tokens[i - 1].end == tok.start and tokens[i - 1].text[-1:].isalpha():
        return True
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return bool(nxt and nxt.start == tok.end and nxt.text[:1].isalpha()
                and nxt.text not in ("st", "nd", "rd", "th", "s", "x", "ext"))


def _joins(tokens: list[Token], i: int) -> bool:
    # "." and "/" join digit groups only when tight ("930.167.3943"); ". " ends a sentence.
    t = tokens[i]
    if t.text not in "./":
        return True
    return (i > 0 and tokens[i - 1].end == t.start and i + 1 < len(tokens)
            and tokens[i + 1].start == t.end)


def digit_runs(tokens: list[Token], text: str = "") -> list[Run]:
    """Group tokens into digit runs (see the module docstring).

    With ``text``, a line break ends a run: lines of a written form are separate fields.
    """
    runs: list[Run] = []
    n = len(tokens)
    i = 0
    lines = "\n" in text
    while i < n:
        t = tokens[i].text
        if t not in NUMBER_WORDS and not t.isdigit():
            i += 1
            continue
        if t in ("hundred", "thousand") or (t.isdigit() and _glued(tokens, i)):
            i += 1
            continue
        chunks: list[Chunk] = []
        seps: list[str] = []
        sep = ""
        while i < n:
            t = tokens[i].text
            if lines and chunks and text.find("\n", tokens[i - 1].end, tokens[i].start) != -1:
                break
            if t.isdigit() and _glued(tokens, i):
                break
            if t.isdigit():
                if chunks:
                    seps.append(sep)
                chunks.append(_new(Chunk, (t, tokens[i].start, tokens[i].end, False)))
                sep = ""
                i += 1
                continue
            if t in NUMBER_WORDS:
                parsed = _words_value(tokens, i)
                if parsed is None:
                    break
                digits, j = parsed
                if chunks:
                    seps.append(sep)
                chunks.append(_new(Chunk, (digits, tokens[i].start, tokens[j - 1].end, True)))
                sep = ""
                i = j
                continue
            # Recognisers write "for" for "four" and "to" for "two": inside a run, with a
            # digit word on both sides, the homophone is the digit ("one to three four").
            if (t in HOMOPHONES and chunks and chunks[-1].spoken and len(chunks[-1].digits) == 1
                    and i + 1 < n and tokens[i + 1].text in UNITS):
                seps.append(sep)
                chunks.append(_new(Chunk, (HOMOPHONES[t], tokens[i].start, tokens[i].end, True)))
                sep = ""
                i += 1
                continue
            # A separator or filler continues the run only if a number follows it.
            if (t in SEPARATORS or t in FILLERS) and chunks and i + 1 < n:
                k = i
                while k < n and (tokens[k].text in SEPARATORS or tokens[k].text in FILLERS) and _joins(tokens, k):
                    k += 1
                if k == i:
                    break
                if k < n and _is_number_token(tokens[k].text) and k - i <= 3:
                    sep += "".join(tok.text for tok in tokens[i:k])
                    i = k
                    continue
            break
        if chunks:
            runs.append(Run(tuple(chunks), tuple(seps)))
        else:
            i += 1
    return runs


def lone_oh(run: Run) -> bool:
    """A run that is one "oh"/"o": an interjection ("oh, I see"), unless it continues
    a number from the previous turn. A leading "oh" in "oh two three ..." is a real
    zero; card detection tolerates a stray one by trying windows."""
    return len(run.chunks) == 1 and run.chunks[0].spoken and run.chunks[0].digits == "0" and (
        run.end - run.start <= 2
    )


def number_shape(text: str, min_digits: int = 3) -> str:
    """``text`` with every digit of each run of ``min_digits`` or more replaced by one fixed
    digit, in its own form (spoken digits stay words, written stay figures). Which digits
    a caller reads out says nothing about what they want; the Route gate reads this, so
    a card number never becomes a feature of the route, and a replay (whose numbers are
    surrogates of the same shape, ``replay/redact.py``) routes exactly as the call did."""
    runs = [r for r in digit_runs(tokenize(text), text) if len(r.digits) >= min_digits]
    out = text
    for run in reversed(runs):
        for c in reversed(run.chunks):
            rep = " ".join("one" for _ in c.digits) if c.spoken else "1" * len(c.digits)
            out = out[:c.start] + rep + out[c.end:]
    return out
