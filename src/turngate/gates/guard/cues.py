"""Cues: the words that say what a number is ("security code", "card", "born").

Matched on tokens, a dict lookup per word, rather than by regular expression:
one regex scan with every cue cost ~100 us per utterance.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .numbers import Token, tokenize

CUE_PHRASES: dict[str, tuple[str, ...]] = {
    "card": ("card", "cards", "cc", "visa", "mastercard", "master card", "amex",
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
    # A caller's secret: what proves who they are, never what a model should hear.
    "credential": ("pin", "pin number", "pin code", "passcode", "pass code", "password", "passphrase",
                   "one time code", "one time passcode", "one time password", "otp",
                   "access code", "security pin", "telephone banking code", "phone banking code",
                   "code you texted", "code you sent", "code they texted", "code they sent", "sms code",
                   "texted code", "text code"),
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
