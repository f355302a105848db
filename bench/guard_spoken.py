"""Value generators and the spoken rendering of the Guard benchmark's PII sets (see ``bench/guard.py``)."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from turngate.gates.guard.cards import luhn_ok  # noqa: E402

ONES = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
MONTHS = ("january february march april may june july august september october november "
          "december").split()
ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
       8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
       14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth",
       19: "nineteenth", 20: "twentieth", 30: "thirtieth"}


# ------------------------------------------------------------------ generation

def card(rng: random.Random) -> str:
    prefix, length = rng.choice([
        ("4", 16), ("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16),
        ("2720", 16), ("2300", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16),
        ("36", 14), ("3530", 16), ("6304", 12), ("5018", 19),
    ])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        if luhn_ok(body + d):
            return group_card(body + d, rng)
    raise AssertionError


def group_card(d: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return d
    sizes = {15: [4, 6, 5], 14: [4, 6, 4]}.get(len(d)) or [4] * (len(d) // 4) + (
        [len(d) % 4] if len(d) % 4 else [])
    out, i = [], 0
    for s in sizes:
        out.append(d[i:i + s])
        i += s
    return rng.choice([" ", "-"]).join(out)


def ssn(rng: random.Random) -> str:
    return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def dob(rng: random.Random) -> str:
    return f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1935, 2005)}"


def phone(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([f"{a}-{b}-{c:04d}", f"({a}) {b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}"])


def cvv(rng: random.Random) -> str:
    return str(rng.randint(100, 9999 if rng.random() < 0.2 else 999))


def email(rng: random.Random) -> str:
    return rng.choice(["AlexMorgan", "jo.lee", "sam_king", "PriyaShah"]) + "@" + rng.choice(
        ["example.com", "mail.co.uk", "post.de"])


def iban(rng: random.Random) -> str:
    return rng.choice(["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606"])


GEN = {"CARD_NUMBER": card, "SSN": ssn, "DATE_OF_BIRTH": dob, "PHONE": phone, "CVV": cvv,
       "EMAIL": email, "ACCOUNT_NUMBER": iban}

Example = tuple[str, list[tuple[str, int, int]]]  # text, [(type, start, end)]
# ------------------------------------------------------------------ spoken rendering

def say_digits(d: str, rng: random.Random) -> str:
    words, i = [], 0
    while i < len(d):
        run = 1
        while i + run < len(d) and d[i + run] == d[i] and run < 3:
            run += 1
        word = ("oh" if rng.random() < 0.5 else "zero") if d[i] == "0" else ONES[int(d[i])]
        if run == 3 and rng.random() < 0.3:
            words.append("triple " + word)
            i += 3
        elif run >= 2 and rng.random() < 0.3:
            words.append("double " + word)
            i += 2
        else:
            words.append(word)
            i += 1
    return " ".join(words)


def say_number(n: int) -> str:
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])


def say_year(y: int, rng: random.Random) -> str:
    if 2000 <= y < 2010:
        return "two thousand" + ("" if y == 2000 else " and " + ONES[y - 2000])
    hi, lo = divmod(y, 100)
    return say_number(hi) + " " + ("hundred" if lo == 0 else ("oh " + ONES[lo] if lo < 10 else say_number(lo)))


def say_ordinal(n: int) -> str:
    if n in ORD:
        return ORD[n]
    return TENS[n // 10] + " " + ORD[n % 10]


def say_grouped(value: str, rng: random.Random) -> str:
    parts = [p for p in re.split(r"[^0-9+]+", value) if p]
    out = []
    for p in parts:
        if p.startswith("+"):
            out.append("plus " + say_digits(p[1:], rng))
        else:
            out.append(say_digits(p, rng))
    return rng.choice([" ", ", "]).join(out)


def say_date(value: str, rng: random.Random) -> str:
    m, d, y = (int(x) for x in value.split("/"))
    year = say_year(y, rng)
    if rng.random() < 0.3:
        return f"the {say_ordinal(d)} of {MONTHS[m - 1]} {year}"
    return f"{MONTHS[m - 1]} {say_ordinal(d)} {year}"


def say_email(value: str) -> str:
    local, _, domain = value.partition("@")
    local = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", local).lower()
    return (local.replace(".", " dot ").replace("_", " underscore ") + " at "
            + domain.lower().replace(".", " dot ")).strip()


def say_entity(kind: str, value: str, rng: random.Random) -> str:
    if kind == "DATE_OF_BIRTH" and re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
        return say_date(value, rng)
    if kind == "EMAIL":
        return say_email(value)
    if kind == "ACCOUNT_NUMBER" and re.search(r"[A-Za-z]", value):
        return " ".join(say_digits(c, rng) if c.isdigit() else c.lower() for c in value if c.strip())
    return say_grouped(value, rng)


def say_plain(text: str, rng: random.Random) -> str:
    text = re.sub(r"\d+", lambda m: " " + say_digits(m.group(), rng) + " ", text)
    text = re.sub(r"\s*\n\s*", ". ", text.lower())
    text = re.sub(r"[^\w\s'.,?]|(?<=\w)[.,?](?=\w)", " ", text)
    return re.sub(r"\s+", " ", text)


def to_spoken(ex: Example, rng: random.Random) -> Example:
    text, spans = ex
    out, new_spans, pos = "", [], 0
    for kind, s, e in sorted(spans, key=lambda x: x[1]):
        if s < pos:
            continue
        out += say_plain(text[pos:s], rng)
        if out and not out.endswith(" "):
            out += " "
        said = say_entity(kind, text[s:e], rng)
        new_spans.append((kind, len(out), len(out) + len(said)))
        out += said + " "
        pos = e
    out += say_plain(text[pos:], rng)
    lead = len(out) - len(out.lstrip())
    return out.strip(), [(k, s - lead, e - lead) for k, s, e in new_spans]
