"""Surrogate redaction for replay records: every number of three digits or more that a
caller (or a model) said is replaced by a different number of the same shape.

A replay record must hold no card number, CVV, SSN or PIN, yet the guard must see in
it what it saw in the call, or replay under the same policy would not reproduce the
call. So a number is not masked but replaced: same count of digits, same first digit
(a card's issuer class, an amount's magnitude), written the same way (digits stay
digits, spoken digits stay spoken words), and a number that passed the Luhn check
still passes it. The other digits come from a fixed sequence, so the surrogate says
nothing about the original and one number is replaced the same way in every partial.

Limits, by design: an entity that is not a number (an e-mail address, a name) is not
rewritten here (the guard's evidence already redacts it; the event text is replaced by
``[REDACTED]`` when the guard finds any non-numeric entity); a number split across two
turns is replaced per turn, so it may stop passing Luhn across the split.
"""

from __future__ import annotations

from ..gates.guard.numbers import digit_runs, tokenize

__all__ = ["surrogate_digits", "redact_numbers", "luhn_ok"]

_FILL = "2468013579"
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def surrogate_digits(digits: str) -> str:
    """A different number of the same length and first digit; Luhn-valid if ``digits`` was."""
    if len(digits) < 2:
        return digits
    body = digits[0] + "".join(_FILL[(i * 3) % 10] for i in range(1, len(digits)))
    if body == digits:
        body = digits[0] + "".join(_FILL[(i * 3 + 5) % 10] for i in range(1, len(digits)))
    if len(digits) >= 12 and luhn_ok(digits):
        body = body[:-1] + next(str(c) for c in range(10) if luhn_ok(body[:-1] + str(c)))
    return body


def redact_numbers(text: str, min_digits: int = 3) -> str:
    """``text`` with every run of at least ``min_digits`` digits replaced by its surrogate."""
    runs = [r for r in digit_runs(tokenize(text), text) if len(r.digits) >= min_digits]
    if not runs:
        return text
    out = text
    for run in reversed(runs):
        sur = surrogate_digits(run.digits)
        pieces: list[tuple[int, int, str]] = []
        n = 0
        for c in run.chunks:
            part = sur[n:n + len(c.digits)]
            n += len(c.digits)
            pieces.append((c.start, c.end, " ".join(_WORDS[int(d)] for d in part) if c.spoken else part))
        for start, end, rep in reversed(pieces):
            out = out[:start] + rep + out[end:]
    return out
