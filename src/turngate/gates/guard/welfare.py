"""The welfare check: what a caller's answer to "are you thinking about harming yourself?" says.

A final whose self-harm score sits just under its threshold (``risk.WELFARE_CHECK_BELOW``)
is a concern, not a verdict. A person on the phone would not hand such a caller over
unasked, nor carry on as if nothing was said: they would ask, directly, as suicide
prevention training teaches (asking does not put the idea there). The Guard gate asks
``SAFE_REPLIES["welfare_check"]`` ("... are you thinking about harming yourself or ending
your life?") and reads the next final here:

- ``yes``: the caller says yes, or anything short of no: "maybe", "I don't know",
  "sometimes", "not really", "kind of", "no, I'm not okay". Unsure counts as yes: a caller
  at risk rarely says a plain yes, and a person taking a safe caller's call costs a minute.
- ``no``: a plain no, "I'm fine", "not like that", "I didn't mean it like that".
- ``""``: the caller went on to something else ("can I just pay my bill"): the turn is
  handled as any other, and its own words are checked as any other (a second concern
  reaches a person).

Only the answer's opening words count: "no, but I don't want to be here anymore" is
read by the risk detectors on its own words, which the gate does first.
"""

from __future__ import annotations

import re

__all__ = ["answer"]

_FILLER = r"(?:(?:um+|uh+|erm|well|oh|honestly|i mean|to be honest|yeah well|look)\s*,?\s*)*"
# Short of no: a caller who is not okay, or not sure, has answered yes.
_NOT_OKAY = re.compile(
    r"\b(?:not|n't|never) (?:really )?(?:ok(?:ay)?|fine|alright|all right|safe|good|great|coping|sure)\b|"
    r"\bnot really\b|\bi don'?t know\b|\bdunno\b|\bmaybe\b|\bperhaps\b|\bsometimes\b|\bkind of\b|"
    r"\bsort of\b|\ba (?:bit|little)\b|\bprobably\b|\bi (?:think|guess) so\b",
    re.I)
_YES = re.compile(rf"^{_FILLER}(?:yes|yeah|yep|yup|yea|aye|i'?m afraid so|i think so|i guess so)\b", re.I)
# "I am", "I do": a yes only as the whole answer ("I do want to pay my bill" is not one)
_YES_SHORT = re.compile(rf"^{_FILLER}i (?:am|do|have|have been|really am|really do)(?: (?:yes|yeah|really))?$", re.I)
# A no said with a "not" of its own, which is no sign of not being okay.
_NOT_NO = r"not at all|of course not|definitely not|not like that"
_NO = re.compile(
    rf"^{_FILLER}(?:no|nope|nah|{_NOT_NO}|god no|no way|"
    r"i'?m (?:fine|ok(?:ay)?|alright|all right|safe|good)|i am (?:fine|ok(?:ay)?|alright|all right|safe|good)|"
    r"i didn'?t mean (?:it|that)|that'?s not what i meant)\b",
    re.I)


def answer(text: str) -> str:
    """``"yes"``, ``"no"`` or ``""`` (neither: the caller moved on) for the final that
    answers the welfare check."""
    t = " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())
    if not t:
        return ""
    if _NO.match(t):
        # "no, I'm not okay" and "not really, I don't know" are not a no
        return "yes" if _NOT_OKAY.search(t) and not _plain_no(t) else "no"
    if _YES.match(t) or _YES_SHORT.match(t) or (len(t.split()) <= 6 and _NOT_OKAY.search(t)):
        return "yes"
    return ""


def _plain_no(t: str) -> bool:
    """A no whose only "not ..." is the no itself ("not at all", "of course not")."""
    rest = re.sub(rf"\b(?:{_NOT_NO})\b", "", t)
    return not _NOT_OKAY.search(rest)
