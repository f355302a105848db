"""E-mail addresses (written, and spoken "jane dot doe at gmail dot com"), IBANs
(written and spelled out) and phone-number plausibility."""

from __future__ import annotations

import re

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE as COUNTRY_CODES

from .numbers import REPEAT, UNITS, Run, Token

HAS_DIGIT = re.compile(r"\d").search
# two letters said one by one ("g b two six ..."): the only way a spoken IBAN starts
SPELLED = re.compile(r"(?<!\w)[a-z] [a-z](?!\w)").search
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


def iban_ok(s: str) -> bool:
    from stdnum import iban

    return iban.is_valid(s.replace(" ", "").upper())
