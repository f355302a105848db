"""What a caller's words say about the turn: pure text rules used by the call.

- ``end_of_turn_rule``: how long a silence closes the turn, from what was said.
- ``classify_interjection``: is a sound over our playback a backchannel, an
  interruption, or not yet known.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .params import TurnParams

_WORD = re.compile(r"[a-z0-9']+")
_NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand double triple".split()
)
_QUESTION_STARTS = frozenset(
    "what when where why how who which can could would will is are do does did should may".split()
)
# Function words carry no request on their own; a recogniser fed a backchannel over
# noise produces them ("can i'm", "the and"), so they do not count as content.
_FUNCTION_WORDS = frozenset(
    "a an the and or but so to of in on at for with is are was be i i'm im me my you your it its "
    "that this what can do does did will would could should have has had just like".split()
)
_COMPLETE_SHORT = frozenset({"yes", "no", "yeah", "nope", "thanks", "thank you", "goodbye", "bye", "that's all"})


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def end_of_turn_rule(text: str, p: TurnParams) -> tuple[int, str]:
    """Silence (ms) that closes the turn after ``text``, and the rule that chose it."""
    ws = words(text)
    if not ws:
        return p.end_silence_ms, "turn.end.silence"
    last = ws[-1]
    if last in p.open_endings:
        return p.end_silence_open_ms, "turn.end.open_ending"
    if last in _NUMBER_WORDS or last.isdigit():
        # A number being read out ("four one one one ...") pauses between groups.
        return p.end_silence_open_ms, "turn.end.unfinished_number"
    joined = " ".join(ws)
    if (ws[0] in _QUESTION_STARTS and len(ws) >= 4) or text.rstrip().endswith("?") or joined in _COMPLETE_SHORT:
        return p.end_silence_complete_ms, "turn.end.complete"
    return p.end_silence_ms, "turn.end.silence"


def _phrases_in(ws: list[str], phrases: tuple[str, ...]) -> list[str]:
    joined = " " + " ".join(ws) + " "
    return [ph for ph in phrases if f" {ph.replace('-', ' ')} " in joined]


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def without_echo(text: str, echo_words: set[str]) -> str:
    """Drop words that our own recent audio contains: on a line without echo
    cancellation the recogniser hears us ("waiting" comes back as "wait")."""
    if not echo_words:
        return text
    ours = {stem(w) for w in echo_words}
    return " ".join(w for w in words(text) if stem(w) not in ours)


@lru_cache(maxsize=8)
def _backchannel_words(phrases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w for ph in phrases for w in ph.replace("-", " ").split())


def classify_interjection(text: str, p: TurnParams) -> tuple[str, str, list[str]]:
    """Classify caller words heard over our playback.

    Returns (kind, rule, evidence words) with kind one of:
      interrupt   - a stop/correction phrase: abandon the response
      new_request - two or more different content words that are not backchannels
      backchannel - only backchannel words ("uh-huh", "yeah", "right")
      unknown     - nothing recognisable yet
    """
    ws = words(text.replace("-", " "))
    if not ws:
        return "unknown", "bargein.no_words", []
    hits = _phrases_in(ws, p.interrupt_words)
    if hits:
        return "interrupt", "bargein.interrupt_phrase", hits
    bc_words = _backchannel_words(p.backchannels)
    content = [w for w in ws if w not in bc_words and w not in _FUNCTION_WORDS]
    # Different words: a recogniser fed noise or echo loops on one ("moon moon", "move
    # move"), and a caller who repeats one word is still heard by sustained speech.
    if len(set(content)) >= 2:
        return "new_request", "bargein.new_request", content
    if not content and all(w in bc_words for w in ws):
        return "backchannel", "bargein.backchannel", ws
    if not content:
        # Words, but none that asks for anything yet: wait for more (not a sign of noise).
        return "unknown", "bargein.function_words_only", ws
    return "unknown", "bargein.unclear", content
