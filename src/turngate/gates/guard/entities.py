"""PII detection over written and spoken text (tier 0: pure Python, no model).

Theory of operation. ``numbers.digit_runs`` turns the text into digit runs
with character spans, whatever mix of digits and number words the recogniser
wrote. Detectors then decide what a run is, in this order:

- dates (written patterns and spoken "march fourth nineteen eighty") are found
  first and claim their spans; a date is a DATE_OF_BIRTH only with a birth cue
  ("born", "date of birth") before it, or when the previous turn armed one;
- e-mail addresses, written or spoken ("jane dot doe at gmail dot com");
- a card number is a window of a run, aligned on the groups as read, with an
  issuer prefix, an allowed length and a valid Luhn digit. A window that is
  not the whole run also needs a card cue, so a long reference number does
  not yield cards by chance;
- CVV (3-4 digits), SSN (9 digits, or the written 3-2-4 form), account numbers
  and phone numbers need their cue, except written SSNs and phone numbers in a
  recognisable format. A cue arms only the next run after it, and only within
  ``CUE_WINDOW`` characters.

Cues are regular expressions rather than a model: they are few, auditable and
cheap, and the policy can name what they guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE as COUNTRY_CODES

from .findings import Finding
from .numbers import (
    ORDINALS, REPEAT, TEENS, TENS, UNITS, Chunk, Run, Token, digit_runs, lone_oh, tokenize,
)

CUE_WINDOW = 64  # characters between a cue's end and the run it arms
STATE_WINDOW = 32  # an armed field from the previous turn applies to a run this near the start

# Cue phrases by kind, matched on tokens (a dict lookup per word) rather than by
# regular expression: one regex scan with every cue cost ~100 us per utterance.
CUE_PHRASES: dict[str, tuple[str, ...]] = {
    "card": ("card", "cards", "cc", "credit", "debit", "visa", "mastercard", "master card", "amex",
             "american express", "discover", "maestro", "long number", "pan"),
    "cvv": ("security code", "security number", "security digits", "cvv", "cvc", "cv2", "c v v",
            "c v c", "csc", "card verification", "verification code", "verification value",
            "verification number", "three digits on the back", "3 digits on the back",
            "three digit code on the back", "three digit number on the back",
            "four digits on the front", "4 digits on the front", "three digits at the back",
            "code on the back", "digits on the back", "number on the back",
            "back of the card", "back of my card", "front of the card", "front of my card"),
    "ssn": ("ssn", "s s n", "social security", "social is", "social number", "social no",
            "ss number", "social insurance", "tax id", "taxpayer id", "itin"),
    "dob": ("born", "birthday", "birthdays", "birth day", "birthdate", "birth date",
            "date of birth", "d o b", "dob", "d . o . b"),
    "phone": ("phone", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "landline",
              "call", "calls", "reach", "text", "texts", "message", "messages", "ring me",
              "contact number", "whatsapp", "answering", "dial", "extension", "ext", "my number",
              "number to call", "desk"),
    "account": ("account", "acct", "a / c", "iban", "routing", "sort code", "member number",
                "member id", "membership number", "membership id", "customer number",
                "customer id", "policy number", "reference number", "loan number"),
    # Numbers that are something else: no card unless a card cue says otherwise.
    "other_id": ("license", "licence", "passport", "tracking", "order", "reference", "ref",
                 "serial", "confirmation", "invoice", "ticket", "case", "claim", "booking",
                 "flight", "ip address", "zip", "postcode", "post code"),
    "last4": ("last four", "last 4"),
    "expiry": ("expiry", "expires", "expiration", "expiring", "exp", "valid thru",
               "valid through", "valid until"),
}


def _phrase_index() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for kind, phrases in CUE_PHRASES.items():
        for phrase in phrases:
            words = tuple(phrase.split())
            index.setdefault(words[0], []).append((words[1:], kind))
    for options in index.values():
        options.sort(key=lambda o: -len(o[0]))  # longest first: "card verification" beats "card"
    return index


CUE_INDEX = _phrase_index()
# Cues written after a phone number in signatures and forms ("... office", "-Fax").
PHONE_AFTER = re.compile(r"\W{0,3}(?:office|fax|mobile|cell|home|work|desk|tel|phone)\b", re.I)

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
WRITTEN_DATES = (
    re.compile(r"(?<![\d/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"),
    re.compile(r"(?<![\d/.-])\d{4}[/.-]\d{1,2}[/.-]\d{1,2}(?![\d/.-])"),
)
_DIGIT_SEP = re.compile(r"\d[/.-]\d").search
_DIGIT = re.compile(r"\d").search
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
IBAN_RE = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b")

TLDS = frozenset(
    "com org net edu gov mil io co uk us de fr ca au info biz me ai ch nl es it in jp "
    "ru br mx se no dk fi pl be at ie nz za tv cc eu app dev xyz online".split()
)
EMAIL_LOCAL_STOP = frozenset(
    "is my me to at the a an email e-mail mail address it's its was and or send on "
    "of for your you that this".split()
)
DOMAIN_STOP = frozenset("the my your his her our their this that home work least once".split())
EMAIL_JOINERS = frozenset({"dot", "underscore", "dash", "hyphen", "minus", "plus", "period"})


class Cue(NamedTuple):
    kind: str
    start: int
    end: int


def find_cues(text: str, tokens: list[Token] | None = None) -> list[Cue]:
    tokens = tokenize(text) if tokens is None else tokens
    cues: list[Cue] = []
    n = len(tokens)
    i = 0
    while i < n:
        options = CUE_INDEX.get(tokens[i].text)
        if options:
            for rest, kind in options:
                k = len(rest)
                if all(i + 1 + j < n and tokens[i + 1 + j].text == w for j, w in enumerate(rest)):
                    cues.append(Cue(kind, tokens[i].start, tokens[i + k].end))
                    i += k
                    break
        i += 1
    return cues


# ---------------------------------------------------------------- cards

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


# ---------------------------------------------------------------- dates

def _day_at(tokens: list[Token], i: int) -> tuple[int, int] | None:
    """A day of the month at tokens[i]: (day, next index)."""
    if i >= len(tokens):
        return None
    t = tokens[i].text
    if t.isdigit() and 1 <= int(t) <= 31 and len(t) <= 2:
        j = i + 1
        if j < len(tokens) and tokens[j].text in ("st", "nd", "rd", "th"):
            j += 1
        return int(t), j
    if t in ORDINALS:
        return ORDINALS[t], i + 1
    if t in ("twenty", "thirty") and i + 1 < len(tokens):
        n = tokens[i + 1].text
        if n in ORDINALS and ORDINALS[n] < 10:
            return TENS[t] + ORDINALS[n], i + 2
        if n in UNITS and 0 < UNITS[n] and n not in ("o", "oh"):
            return TENS[t] + UNITS[n], i + 2
        return TENS[t], i + 1
    if t in TEENS:
        return TEENS[t], i + 1
    if t in UNITS and t not in ("o", "oh", "zero") and UNITS[t]:
        return UNITS[t], i + 1
    return None


def _year_at(runs_by_start: dict[int, Run], tokens: list[Token], i: int) -> int | None:
    """End character of a year run starting at tokens[i], or None."""
    if i < len(tokens) and tokens[i].text in (",", "of", "in"):
        i += 1
    if i >= len(tokens):
        return None
    run = runs_by_start.get(tokens[i].start)
    if run is None:
        return None
    d = run.digits
    if len(d) == 4 and d[:2] in ("19", "20"):
        return run.end
    if len(d) == 2 and run.chunks[0].spoken is False and tokens[i].text.startswith("'"):
        return run.end
    if len(d) == 2 and len(run.chunks) == 1:  # "eighty", "'80"
        return run.end
    return None


def find_dates(text: str, tokens: list[Token], runs: list[Run]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if _DIGIT_SEP(text):  # written dates need "4/26" or "1991-04": skip the scans otherwise
        for rx in WRITTEN_DATES:
            spans.extend((m.start(), m.end()) for m in rx.finditer(text))
    runs_by_start = {r.start: r for r in runs}
    n = len(tokens)
    for i, tok in enumerate(tokens):
        if tok.text not in MONTHS:
            continue
        start, end = tok.start, tok.end
        day = None
        # "the fourth of march", "4th of march", "4 march"
        k = i - 1
        if k >= 0 and tokens[k].text == "of":
            k -= 1
        for back in (k - 1, k):  # "twenty sixth of may" before "sixth of may"
            if back >= 0:
                got = _day_at(tokens, back)
                if got and got[1] in (k + 1, i):
                    day = got[0]
                    start = tokens[back].start
                    break
        day_before = day is not None
        j = i + 1
        if j < n and tokens[j].text == ".":
            j += 1
        if day is None:
            got = _day_at(tokens, j)
            if got:
                day, j2 = got
                # "may one" alone is not a date; need the day to look like one
                end = tokens[j2 - 1].end
                j = j2
        year_end = _year_at(runs_by_start, tokens, j)
        if year_end is not None:
            end = year_end
        if day is None and year_end is None:
            continue
        if tok.text == "may" and not day_before and (day is None or year_end is None) and not (
            i + 1 < n and tokens[i + 1].text in ORDINALS
        ):
            continue  # "may I ..." is a verb far more often than a month
        spans.append((start, end))
    return spans


def numeric_date(run: Run) -> bool:
    """Does a run read as month-day-year ("six twenty four ninety one", "1 14 1961")?"""
    d = run.digits
    for ml in (1, 2):
        for dl in (1, 2):
            for yl in (2, 4):
                if ml + dl + yl != len(d):
                    continue
                m, dd, y = int(d[:ml]), int(d[ml:ml + dl]), d[ml + dl:]
                if d[0] == "0" and ml == 1 or d[ml] == "0" and dl == 1:
                    continue
                if 1 <= m <= 12 and 1 <= dd <= 31 and (yl == 2 or y[:2] in ("19", "20")):
                    return True
                if 1 <= dd <= 12 and 1 <= m <= 31 and (yl == 2 or y[:2] in ("19", "20")):
                    return True
    return False


# ---------------------------------------------------------------- e-mail

def find_emails(text: str, tokens: list[Token]) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in EMAIL_RE.finditer(text)] if "@" in text else []
    n = len(tokens)
    for k, tok in enumerate(tokens):
        if tok.text not in ("at", "@") or k == 0:
            continue
        # domain: word (joiner word)* dot tld [dot tld]
        j = k + 1
        seen_dot = False
        last_end = -1
        while j < n:
            t = tokens[j].text
            if t == "dot" and j + 1 < n and tokens[j + 1].text.isalnum():
                seen_dot = True
                j += 1
                # spelled TLD "e d u"
                if len(tokens[j].text) == 1 and tokens[j].text.isalpha():
                    while j < n and len(tokens[j].text) == 1 and tokens[j].text.isalpha():
                        j += 1
                    last_end = tokens[j - 1].end
                    continue
                if tokens[j].text in TLDS or (len(tokens[j].text) == 2 and tokens[j].text.isalpha()):
                    last_end = tokens[j].end
                j += 1
                continue
            if seen_dot or not (t.isalnum() or t in EMAIL_JOINERS) or (
                j == k + 1 and t in DOMAIN_STOP
            ):
                break
            j += 1
            if j - k > 6:
                break
        if last_end < 0:
            continue
        # local part: back over spelled letters, digits, joiners and at most two words
        b = k - 1
        words = 0
        start = -1
        while b >= 0:
            t = tokens[b].text
            if (len(t) > 1 and t in EMAIL_LOCAL_STOP) or not (
                t.isalnum() or t in EMAIL_JOINERS or t in "._-"
            ):
                break
            if len(t) > 1 and not t.isdigit() and t not in EMAIL_JOINERS:
                words += 1
                if words > 2:
                    break
            start = tokens[b].start
            b -= 1
        if start >= 0:
            spans.append((start, last_end))
    return spans


def spoken_ibans(tokens: list[Token]) -> list[tuple[int, int]]:
    """A spelled IBAN: two letters, two digits, then letters and digits ("g b two six y v o k ...")."""
    out = []
    n = len(tokens)
    i = 0
    while i < n - 3:
        a, b = tokens[i].text, tokens[i + 1].text
        if not (len(a) == 1 and a.isalpha() and len(b) == 1 and b.isalpha()):
            i += 1
            continue
        j = i + 2
        letters = digits = 0
        while j < n:
            t = tokens[j].text
            if t.isdigit():
                digits += len(t)
            elif t in UNITS or t in REPEAT:
                digits += 1
            elif len(t) == 1 and t.isalpha():
                letters += 1
            else:
                break
            j += 1
        first = tokens[i + 2].text
        if digits >= 10 and digits + letters >= 13 and (first.isdigit() or first in UNITS):
            out.append((tokens[i].start, tokens[j - 1].end))
            i = j
        else:
            i += 1
    return out


# ---------------------------------------------------------------- phone

def phone_plausible(run: Run, text: str, cued: bool) -> bool:
    d = run.digits
    plus = run.start > 0 and text[max(0, run.start - 6):run.start].rstrip().lower().endswith(
        ("+", "plus")
    )
    if cued:
        return 7 <= len(d) <= 15
    if plus:
        # phonenumbers' country-code table; its full parse costs ~30 us, too much per partial
        return 8 <= len(d) <= 15 and any(
            int(d[:k]) in COUNTRY_CODES for k in (1, 2, 3) if d[0] != "0"
        )
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    if len(d) == 10 and d[0] in "23456789" and d[3] in "23456789":
        if run.spoken:
            return True
        # written: grouped as 3-3-4 ("541-714-1388", "(541) 714 1388") or one block
        sizes = [len(c.digits) for c in run.chunks]
        return sizes in ([3, 3, 4], [1, 3, 3, 4], [10], [11])
    return False


# ---------------------------------------------------------------- driver

@dataclass(frozen=True, slots=True)
class Scan:
    findings: tuple[Finding, ...]
    tail_digits: str  # digits of a run that ends the text (for the next turn)
    tail_armed: frozenset[str]  # cues left open at the end of the text


def _cue_kinds(cues: list[Cue], lo: int, hi: int) -> set[str]:
    return {c.kind for c in cues if lo <= c.end <= hi}


def detect(text: str, *, carry: str = "", armed: Iterable[str] = ()) -> Scan:
    """All PII findings in ``text``; ``carry``/``armed`` come from the previous turn."""
    armed = frozenset(armed)
    tokens = tokenize(text)
    runs = digit_runs(tokens, text)
    # a lone "oh" is an interjection, unless it continues the previous turn's number
    runs = [r for i, r in enumerate(runs)
            if not lone_oh(r) or (i == 0 and carry and r.start <= STATE_WINDOW)]
    cues = find_cues(text, tokens)
    findings: list[Finding] = []
    claimed: list[tuple[int, int]] = []

    def claim(kind: str, rule: str, s: int, e: int) -> None:
        findings.append(Finding(type=kind, start=s, end=e, rule=rule))
        claimed.append((s, e))

    # dates first: their digits must not be read as phone or card numbers
    dates = find_dates(text, tokens, runs)
    for s, e in dates:
        before = _cue_kinds(cues, max(0, s - CUE_WINDOW), s)
        if "dob" in before or ("dob" in armed and s <= STATE_WINDOW):
            claim("DATE_OF_BIRTH", "guard.pii.date_of_birth", s, e)
        elif "expiry" in before:
            claim("CARD_EXPIRY", "guard.pii.card_expiry", s, e)
        else:
            claimed.append((s, e))  # an ordinary date: not PII, but not a number either
    for s, e in find_emails(text, tokens):
        if not any(s < ce and cs < e for cs, ce in claimed):
            claim("EMAIL", "guard.pii.email", s, e)
    for m in IBAN_RE.finditer(text) if _DIGIT(text) else ():
        cand = m.group()
        while cand and not _iban_ok(cand):  # "GB82...32 to other": drop the trailing words
            cand = cand.rsplit(" ", 1)[0] if " " in cand else ""
        if cand:
            claim("ACCOUNT_NUMBER", "guard.pii.account_number.iban", m.start(), m.start() + len(cand))
    for s, e in spoken_ibans(tokens):
        if not any(s < ce and cs < e for cs, ce in claimed):
            claim("ACCOUNT_NUMBER", "guard.pii.account_number.iban", s, e)

    prev_end = 0
    first = True
    tail_digits = ""
    for run in runs:
        if any(run.start < ce and cs < run.end for cs, ce in claimed):
            prev_end = run.end
            continue
        window_lo = max(prev_end, run.start - CUE_WINDOW)
        kinds = _cue_kinds(cues, window_lo, run.start)
        if first and run.start <= STATE_WINDOW:
            kinds |= armed
        after = PHONE_AFTER.match(text, run.end) is not None
        lead = ""
        if first and carry and run.start <= STATE_WINDOW:
            lead = carry
        first = False
        r = run if not lead else Run(
            (Chunk(lead, run.start, run.start, True),) + run.chunks, ("",) + run.seps
        )
        prev_end = run.end
        d = r.digits
        card = None
        wide = _cue_kinds(cues, max(0, run.start - CUE_WINDOW), run.start)
        if "card" in kinds or not wide & {"other_id", "account"}:
            card = find_card(r, "card" in kinds or bool(lead), min_end=len(lead) + 1)
            if card is None and lead:
                card = find_card(run, "card" in kinds)
                r = run
        if card is not None:
            s, e = r.span_of(*card)
            claim("CARD_NUMBER", "guard.pii.card_number", s, e)
            continue
        # Only a card may join the previous turn's digits; everything else reads this run.
        r, d = run, run.digits
        n = len(d)
        if ("cvv" in kinds or _cue_after(cues, "cvv", run.end)) and 3 <= len(run.digits) <= 4:
            claim("CVV", "guard.pii.cvv", run.start, run.end)
        elif "expiry" in kinds and 3 <= n <= 6:
            claim("CARD_EXPIRY", "guard.pii.card_expiry", run.start, run.end)
        elif "dob" in kinds and 5 <= n <= 8 and numeric_date(r):
            claim("DATE_OF_BIRTH", "guard.pii.date_of_birth", run.start, run.end)
        elif n == 9 and ("ssn" in kinds or _ssn_written(run)):
            claim("SSN", "guard.pii.ssn", run.start, run.end)
        elif n == 4 and "ssn" in kinds and "last4" in kinds:
            claim("SSN", "guard.pii.ssn.last4", run.start, run.end)
        elif "account" in kinds and 6 <= n <= 20:
            claim("ACCOUNT_NUMBER", "guard.pii.account_number", run.start, run.end)
        elif ("card" in kinds and "phone" not in kinds and card_prefix_plausible(d)
              and _ends_text(text, run.end)
              and (n >= 4 or any(c.kind == "card" and run.start - c.end <= 24 for c in cues))):
            # a card still being read: redact what is there; the rest comes next partial
            claim("CARD_NUMBER", "guard.pii.card_number.partial", run.start, run.end)
        elif after and 7 <= n <= 20:
            # "... 8211-Office": a cue after the number; a postcode read just before it
            # may be in the same spoken run, and is redacted with it.
            claim("PHONE", "guard.pii.phone", run.start, run.end)
        elif phone_plausible(r, text, "phone" in kinds):
            claim("PHONE", "guard.pii.phone", run.start, run.end)
        elif lead and n >= 12:
            # the previous turn's digits plus these make a long number that is no card
            pass
    tail_armed: set[str] = set()
    if runs and _ends_text(text, runs[-1].end):
        last = runs[-1]
        open_kinds = _cue_kinds(cues, max(0, last.start - CUE_WINDOW), last.start)
        if len(runs) == 1 and carry and last.start <= STATE_WINDOW:
            digits = carry + last.digits
        else:
            digits = last.digits
        if len(digits) < 19 and ((len(digits) >= 4 and card_prefix_plausible(digits))
                                 or open_kinds & {"card", "account"}):
            ending = [f for f in findings if f.end >= last.end]
            # carry a number still being read, or a card that its issuer allows to be
            # longer (16 digits of a 19-digit Visa are a valid card too)
            if all(f.rule.endswith(".partial") for f in ending) or (
                all(f.type == "CARD_NUMBER" for f in ending)
                and len(digits) < max(card_lengths(digits[:4]) or (0,))
            ):
                tail_digits = digits
                tail_armed |= open_kinds & {"card", "account", "ssn", "phone"}
    last_run_end = runs[-1].end if runs else 0
    for c in cues:
        if c.end >= last_run_end and c.kind in ("card", "cvv", "ssn", "dob", "account", "phone"):
            tail_armed.add(c.kind)
    return Scan(tuple(sorted(findings, key=lambda f: f.start)), tail_digits,
                frozenset(tail_armed))


def _cue_after(cues: list[Cue], kind: str, end: int) -> bool:
    # "one two three, that's the security code": the cue may follow a short answer.
    return any(c.kind == kind and end <= c.start <= end + 28 for c in cues)


def _ends_text(text: str, end: int) -> bool:
    return not text[end:].strip(" \t\n.,;:!?-")


def _ssn_written(run: Run) -> bool:
    if run.spoken or [len(c.digits) for c in run.chunks] != [3, 2, 4]:
        return False
    if any(s not in ("-", " ", "") for s in run.seps):
        return False
    d = run.digits
    return d[:3] not in ("000", "666") and d[3:5] != "00" and d[5:] != "0000"


def _iban_ok(s: str) -> bool:
    from stdnum import iban

    return iban.is_valid(s.replace(" ", "").upper())
