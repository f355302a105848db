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
- CVV (3-4 digits), SSN (9 digits, or the written 3-2-4 form), account numbers,
  credentials (a PIN, passcode, one-time code: 3-10 digits) and phone numbers need
  their cue, except written SSNs and phone numbers in a recognisable format. A cue
  arms only the next run after it, and only within ``CUE_WINDOW`` characters;
- a credential said in words ("my password is blue monkey", "my mother's maiden name
  is jones") is the few words after its cue, unless they tell the secret's state
  ("my password is not working").

Cues are word phrases (``cues.CUE_PHRASES``) rather than a model: they are few,
auditable and cheap, and the policy can name what they guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .cards import card_lengths, card_prefix_plausible, find_card
from .contact import HAS_DIGIT, IBAN_RE, SPELLED, find_emails, iban_ok, phone_plausible, spoken_ibans
from .cues import PHONE_AFTER, Cue, find_cues
from .dates import find_dates, numeric_date
from .findings import Finding
from .numbers import Chunk, Run, digit_runs, lone_oh, tokenize

# Cues that make a number near a card cue something other than the card number.
_NOT_CARD = frozenset({"phone", "account", "other_id", "cvv", "expiry", "ssn", "dob", "last4", "credential"})
# A secret said in words: the value after "my password is", up to four words, stopping at
# a pause in the text or where the caller goes on ("... and I want to ...").
_SECRET_WORDS = re.compile(
    r"\b(?:pass ?word|pass ?phrase|pass ?code|memorable (?:word|name|place|date)|secret (?:word|answer)|"
    r"security (?:answer|word)|security question answer|answer to (?:my|the) security question|"
    r"(?:mother'?s )?maiden name)(?: is| was| it's)[:,]? "
    r"((?:(?!and\b|but\b|so\b|because\b)[\w'-]+ ?){1,4})",
    re.I)
# Words that start the secret's state, not the secret ("my password is not working", "was
# changed", "is the same as before"): the caller's problem, which the model must read.
_SECRET_STATE = frozenset("""not no wrong incorrect invalid locked blocked expired broken working changed reset
stolen compromised lost forgotten the a an my your too still being been in on for to required needed asking
saying showing same different new old that this what how why it there also just really very so going supposed
meant set case sensitive ok okay fine right correct definitely probably like about only at of with and but or
because when if now saved stored written somewhere""".split())
CUE_WINDOW = 64  # characters between a cue's end and the run it arms
STATE_WINDOW = 32  # an armed field from the previous turn applies to a run this near the start


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
    low = text.lower()
    for m in _SECRET_WORDS.finditer(text) if _secret_cue(low) else ():
        s, e = m.start(1), m.start(1) + len(m.group(1).rstrip())
        if m.group(1).split()[0].lower() not in _SECRET_STATE and not any(s < ce and cs < e for cs, ce in claimed):
            claim("CREDENTIAL", "guard.pii.credential.words", s, e)
    for s, e in find_emails(text, tokens) if ("@" in text or " at " in low) else ():
        if not any(s < ce and cs < e for cs, ce in claimed):
            claim("EMAIL", "guard.pii.email", s, e)
    for m in IBAN_RE.finditer(text) if HAS_DIGIT(text) else ():
        cand = m.group()
        while cand and not iban_ok(cand):  # "GB82...32 to other": drop the trailing words
            cand = cand.rsplit(" ", 1)[0] if " " in cand else ""
        if cand:
            claim("ACCOUNT_NUMBER", "guard.pii.account_number.iban", m.start(), m.start() + len(cand))
    for s, e in spoken_ibans(tokens) if SPELLED(low) else ():
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
        card_only = "card" in kinds and not kinds & _NOT_CARD
        if ("cvv" in kinds or _cue_after(cues, "cvv", run.end)) and 3 <= len(run.digits) <= 4:
            claim("CVV", "guard.pii.cvv", run.start, run.end)
        elif "credential" in kinds and 3 <= n <= 10:
            claim("CREDENTIAL", "guard.pii.credential", run.start, run.end)
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
        elif card_only and 12 <= n <= 19:
            # A card-length number right after "card number is" that fails the issuer or
            # Luhn check is a card the recogniser misheard: it is still never-send.
            claim("CARD_NUMBER", "guard.pii.card_number.unverified", run.start, run.end)
        elif (card_only and _ends_text(text, run.end) and n < 19
              and (n >= 4 or (n == 3 and d[0] not in "789"
                              and any(c.kind == "card" and run.start - c.end <= 24 for c in cues)))):
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
        if c.end >= last_run_end and c.kind in ("card", "cvv", "ssn", "dob", "account", "phone", "credential"):
            tail_armed.add(c.kind)
    return Scan(tuple(sorted(findings, key=lambda f: f.start)), tail_digits,
                frozenset(tail_armed))


def _secret_cue(low: str) -> bool:
    # The secret-words pattern runs only when one of its words is there (most turns: none).
    return any(w in low for w in ("pass", "memorable", "secret", "security", "maiden"))


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
