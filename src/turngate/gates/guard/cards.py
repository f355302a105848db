"""Card numbers: issuer prefix, allowed length and the Luhn check digit."""

from __future__ import annotations

from .numbers import Run


def luhn_ok(digits: str) -> bool:
    total = 0
    parity = len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_lengths(d: str) -> tuple[int, ...]:
    """Lengths an issuer allows for a number starting with ``d`` (empty: no issuer)."""
    c = d[0]
    if c == "4":
        return (13, 16, 19)  # Visa, including 19-digit Visa
    p2 = int(d[:2]) if len(d) >= 2 else -1
    p4 = int(d[:4]) if len(d) >= 4 else -1
    if c == "5":
        if 51 <= p2 <= 55:
            return (16,)  # Mastercard
        return tuple(range(12, 20))  # Maestro 50, 56-59
    if c == "2":
        if 2221 <= p4 <= 2720:
            return (16,)  # Mastercard 2-series
        if 2200 <= p4 <= 2204:
            return (16, 17, 18, 19)  # Mir
        if p4 == 2131:
            return (15,)  # JCB
        return ()
    if c == "3":
        if p2 in (34, 37):
            return (15,)  # Amex
        if p2 == 35:
            return (16, 17, 18, 19)  # JCB
        if p2 in (30, 36, 38, 39):
            return tuple(range(14, 20))  # Diners
        return ()
    if c == "6":
        return tuple(range(12, 20))  # Discover, UnionPay, Maestro, RuPay
    if p4 == 1800:
        return (15,)  # JCB
    if p4 == 604:  # "0604": Maestro
        return tuple(range(12, 20))
    return ()


def find_card(run: Run, cued: bool, min_end: int = 0) -> tuple[int, int] | None:
    """Digit window (lo, hi) of a card in the run, aligned on the chunks as read.

    ``min_end``: the window must reach this far (past the digits carried from the
    previous turn, which that turn already redacted)."""
    digits = run.digits
    n = len(digits)
    if n < 12:
        return None
    bounds = run.boundaries()
    ends = set(bounds)
    for lo in bounds[:-1]:
        if n - lo < 12:
            break
        lengths = card_lengths(digits[lo:lo + 4])
        for length in sorted(lengths, reverse=True):
            hi = lo + length
            if hi > n or hi not in ends or hi < min_end:
                continue
            if not cued and (lo, hi) != (0, n) and not _stray_zeros(digits, lo, hi):
                continue
            if luhn_ok(digits[lo:hi]):
                return lo, hi
    return None


def _stray_zeros(digits: str, lo: int, hi: int) -> bool:
    # "oh, four one one one ..." puts an interjection zero in front.
    return hi == len(digits) and set(digits[:lo]) <= {"0"} and lo <= 1


def card_prefix_plausible(digits: str) -> bool:
    """Could these digits be the start of a card still being read?"""
    if len(digits) < 4:  # too short to name an issuer: only 7, 8, 9 start no card
        return len(digits) == 3 and digits[0] not in "789"
    return bool(card_lengths(digits[:4])) and len(digits) < 19
