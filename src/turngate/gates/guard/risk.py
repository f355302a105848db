"""Unsafe requests and risk signals: self-harm, threats, requests for harm.

Patterns, not a model: these are rare on a service line, each hit escalates
to a person (self-harm, threats) or blocks (requests for harmful content), and
an operator must be able to read why. English and German.
"""

from __future__ import annotations

import re

# (kind, pattern); kind is the reason code.
RISK: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.I)) for kind, rx in (
        ("self_harm",
         r"\b(?:kill(?:ing)? myself|end(?:ing)? (?:my|it all|my own) ?(?:life)?|take my (?:own )?life|"
         r"suicid(?:e|al)|want to die|wanna die|don'?t want to (?:live|be alive|be here anymore)|"
         r"(?:hurt|harm|cut)(?:ing)? myself|self[- ]harm|no reason to (?:live|go on)|"
         r"better off (?:dead|without me)|not worth living|overdose)\b"),
        ("self_harm",
         r"\b(?:mich umbringen|mir das leben nehmen|selbstmord|suizid|nicht mehr leben (?:will|möchte)|"
         r"will sterben)\b"),
        ("threat",
         r"\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna) "
         r"(?:kill|shoot|stab|hurt|beat|find|burn|blow up|bomb|attack) (?:you|him|her|them|everyone|"
         r"your (?:staff|office|branch|family|manager))|"
         r"(?:bomb|gun|shoot(?:ing)?) (?:at|in|to) (?:your|the) (?:branch|office|bank|store)|"
         r"you(?:'ll| will) (?:regret|pay for) (?:this|it)|i know where you live|watch your back)\b"),
        ("threat", r"\b(?:ich (?:bringe|bring) (?:dich|sie|euch) um|ich werde (?:dich|sie|euch) (?:umbringen|töten))\b"),
        ("harmful_request",
         r"\b(?:how (?:do i|to|can i|would i)|instructions for|steps to|tutorial on|help me)\b"
         r"[\w\s,']{0,40}?\b(?:make|build|synthesi[sz]e|cook|produce|obtain|buy)\b[\w\s,']{0,30}?"
         r"\b(?:bomb|explosive|weapon|meth(?:amphetamine)?|nerve agent|poison|ricin|sarin|"
         r"chemical weapon|bioweapon|ghost gun|silencer|malware|ransomware|counterfeit)\b"),
        ("harmful_request",
         r"\b(?:launder(?:ing)? money|money laundering|steal (?:someone'?s |a )?identity|"
         r"(?:hack|break) into (?:someone|an?|his|her|their|my ex'?s?)|"
         r"access (?:someone else'?s|another (?:person|customer)'?s|my (?:ex|neighbou?r)'?s) account)\b"),
    )
)


# Every pattern above needs one of these words (a test checks it): a set lookup
# per word first, the patterns only when one is there.
TRIGGER_WORDS = frozenset("""
kill killing end ending take life suicide suicidal die wanna live alive anymore hurt hurting
harm harming cut cutting self reason better worth overdose umbringen leben selbstmord suizid
sterben will shoot shooting stab beat find burn blow bomb attack gun regret pay watch bringe
bring töten explosive explosives weapon weapons meth methamphetamine nerve poison ricin sarin
chemical bioweapon silencer malware ransomware counterfeit launder laundering money steal
identity hack break access
""".split())
WORD_RE = re.compile(r"\w+", re.UNICODE)


def detect_risk(text: str) -> str:
    """The first risk kind found ("" when none)."""
    if TRIGGER_WORDS.isdisjoint(WORD_RE.findall(text.lower())):
        return ""
    for kind, rx in RISK:
        if rx.search(text):
            return kind
    return ""
