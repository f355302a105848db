"""Dates, written ("2/8/1935", "1991-04-26") and spoken ("march fourth nineteen
eighty", "the fourth of march"). Whether a date is a date of birth is the
detector's decision (a birth cue), not this module's."""

from __future__ import annotations

import re

from .numbers import ORDINALS, TEENS, TENS, UNITS, Run, Token

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}
WRITTEN_DATES = (
    re.compile(r"(?<![\d/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"),
    re.compile(r"(?<![\d/.-])\d{4}[/.-]\d{1,2}[/.-]\d{1,2}(?![\d/.-])"),
)
_DIGIT_SEP = re.compile(r"\d[/.-]\d").search


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
