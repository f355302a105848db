"""Risk that must reach a person: self-harm, threats, abuse of the agent; and requests for harm.

Theory of operation. A floor of patterns, then two model views on finals:

1. ``RISK``: patterns, the floor. They run on every text (partials included)
   behind a trigger-word set, so an ordinary utterance costs a few set lookups.
   They hold what must never be missed whatever a model says ("kill myself",
   "I know where you live") and the requests for harmful content (weapons,
   drugs, fraud), which no model here learns. A self-harm hit must be the
   caller's own statement: one negated where it stands ("I don't want to die")
   or reported ("people tell me to kill myself") is left to the models, as are an
   injury told as an accident ("I cut myself on the broken glass in your store": a
   claim), a relative's overdose (a bereavement) and a threat's verb in an idiom
   ("I'll shoot you an email"). The floor reads spoken forms ("don t", "dont",
   "do not") and includes method questions ("a lethal dose of ...", "cut my wrists").
2. ``RiskModel``: one logistic model per kind (self_harm, threat, abuse) over the
   injection model's features (word 1-2-grams, character 3-5-grams), shipped as
   ``turngate/data/guard_risk.json.gz`` and trained offline by
   ``tools/train_risk.py`` on licensed sets and hand-written caller lines.
3. ``RiskHead``: per kind a logistic regression over the final's MiniLM sentence
   embedding (``turngate/data/guard_risk_head.json.gz``, trained by the same
   script on the same rows). N-grams do not generalise to paraphrase (a passive
   statement or a veiled threat in words no training line used); a sentence
   embedding does better, and the n-grams keep what the encoder blurs (a slur,
   an exact phrase). The two
   are averaged in log-odds per kind, and the kind fires over a threshold set on
   validation data for a false-positive rate on look-alikes ("this is killing
   me", "I could kill for a coffee", "I'm going to cancel unless you fix this").
   The embedding is the one the Route gate computes for the same final (the
   shell prefetches it off the event loop), passed in, never computed here.
   Without one (no encoder installed) the n-gram model decides alone, with its
   own thresholds.

The models run on finals: a partial ("I could kill ...") is not yet what the
caller said, and partials must stay fast (patterns only).

Every hit escalates to a person (``gate.guard_input``); the verdict says which
detector fired and why, for the decision log and the CRM note.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...data import bundled_json_gz
from .injection import LinearModel

PERSON_KINDS = ("self_harm", "threat", "abuse")  # always a person's call

# Self-harm by method (C-SSRS asks about method, preparation and attempts): a lethal
# amount of a medicine, a bottle of pills at once, cutting one's wrists or an
# artery, hanging or shooting oneself, jumping from a height or in front of a train.
# Written from that list, not from a benchmark's misses; their look-alikes ("how many
# ibuprofen can I safely take", "I cut my finger", "the bridge is closed", "shoot
# myself in the foot", "drown myself in coffee") are tests.
_PILLS = (r"(?:pills|tablets|meds|medication|medicine|painkillers|sleeping pills|antidepressants|"
          r"paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|insulin)")
_VESSEL = r"(?:\w+ )?(?:wrists?|arter(?:y|ies)|veins?|throat|jugular|carotid)\b"
_INTENT = (r"\bi(?:'?ll| will| want to| wanna|'?m going to| am going to|'?m gonna| am gonna| gonna| might| should|"
           r"'?m about to| am about to| plan to|'?m planning to| am planning to|'?m thinking (?:about|of)|"
           r"'?ve been thinking (?:about|of)) (?:just )?(?:go )?")
_METHOD = (
    rf"(?:lethal|fatal|deadly) (?:dose|amount|quantity|overdose)s?|overdos(?:e|ing) on|"
    rf"how (?:many|much) (?:of )?(?:my |these |those |the |your )?(?:\w+ )?{_PILLS}\b[\w\s']{{0,30}}?"
    r"\b(?:kill (?:me|myself|you|a person|someone)|die|be (?:fatal|lethal|deadly)|overdose|od)|"
    rf"(?:take|taking|took|swallow|swallowing|swallowed) (?:all (?:of )?(?:my |the |these |those )?(?:\w+ )?{_PILLS} "
    r"(?:at once|in one go|at the same time|together)|"
    rf"(?:a|the) (?:whole|entire|full) (?:bottle|box|pack|packet|strip) of (?:my |the |these )?(?:\w+ )?{_PILLS})|"
    rf"(?:saving|save|stockpiling|stockpile|hoarding|hoard) (?:up )?(?:my |the )?(?:\w+ )?{_PILLS}|"
    r"(?:cut|cutting|slit|slitting|slash|slashing|sever|severing|pierce|piercing) (?:open )?"
    rf"(?:my|my own|both (?:of )?my|your own|one'?s own) {_VESSEL}|"
    r"how (?:do|can|would|could|should) (?:you|one|someone|a person|people) (?:cut|slit|sever|pierce|slash) "
    rf"(?:your|one'?s|their) (?:own )?{_VESSEL}|"
    r"(?:hang|hanging|hanged|hung) myself|(?:tie|tied|tying|make|made|making|buy|bought) (?:a|the|my) noose|"
    r"(?:shoot|shooting) myself(?! in the (?:foot|feet|leg))|blow(?:ing)? my (?:own )?brains out|"
    r"(?:put|putting) a (?:gun|bullet|pistol) (?:to|in|into|through) my (?:head|mouth|brain|temple)|"
    r"(?:poison|poisoning|suffocate|suffocating|smother|smothering|strangle|strangling|stab|stabbing) myself|"
    r"starv(?:e|ing) myself to death|drown(?:ing)? myself(?! in (?!(?:the |a )?(?:river|lake|sea|ocean|canal|bath)))|"
    r"throw(?:ing)? myself (?:off|from|in front of|under)|"
    rf"{_INTENT}(?:jump(?:ing)?|step(?:ping)?|l[ay]ing down|l[ai]e down|lay down) (?:in front of|under) "
    r"(?:a|an|the|this|that|some) (?:\w+ )?(?:train|bus|lorry|truck|car|tube|subway)|"
    rf"{_INTENT}jump(?:ing)? (?:off|from) (?:a|an|the|this|that|some|my|our) (?:\w+ ){{0,2}}?"
    r"(?:bridge|building|roof|rooftop|balcony|cliff|tower|overpass|ledge|car park|multi[- ]storey)|"
    rf"{_INTENT}driv(?:e|ing) (?:my car |the car )?off (?:a|the|this|that) (?:bridge|cliff|overpass)|"
    r"(?:painless(?:ly)?|quick(?:est)?|easiest|easy|fastest|surest|least painful|best|most effective|simplest) "
    r"(?:way|ways|method|methods|means) (?:to|of) (?:die|dying|kill(?:ing)? myself|"
    r"end(?:ing)? (?:it all|my (?:own )?life)|commit(?:ting)? suicide|suicide)\b(?! in\b)|"
    r"how (?:do|can|could|would|should) i die\b(?! in\b)"
)

# (kind, pattern); kind is the reason code. The self-harm patterns read a text in
# its spoken form (``_spoken``: "don t", "don’t" -> "don't") and a hit is set aside
# when the words just before it negate it or report someone else (``_not_mine``).
RISK: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.I)) for kind, rx in (
        ("self_harm",
         r"\b(?:kill(?:ing)? myself|end(?:ing)? (?:my (?:own )?life|it all)|take my (?:own )?life|"
         r"(?:i'?m|i am|i feel|feeling|i'?ve been|been) suicidal|suicidal thoughts|"
         r"(?:commit|committing|attempt(?:ing)?|thinking (?:about|of)|considering|contemplating) suicide|"
         r"want to die|wanna die|(?:don'?t|do not) (?:want to|wanna) (?:live|be alive|be here anymore)|"
         r"(?:hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?) myself|self[- ]harm(?:ing|ed|er|s)?|no reason to (?:live|go on|keep going)|"
         r"better off (?:dead|without me)|not worth living|overdosed?|"
         r"(?:don'?t|can'?t) see (?:the|any) point (?:of|in) (?:going on|living|being alive|carrying on)|"
         r"(?:no|any) point (?:in )?(?:going on|living|being alive)|nobody would (?:miss|notice) (?:me|if i)|"
         r"(?:go to sleep|fall asleep) and (?:never|not) wake up|"
         r"(?:can'?t|cannot|can not) go on(?= *(?:$|[.!?;,]|any ?more\b|any longer\b|living\b))|"
         r"i won'?t be (?:around|here) (?:much longer|anymore|tomorrow)|"
         r"i(?: will not|'?m not going to| am not going to|'?m not gonna| am not gonna) be (?:around|here) "
         rf"(?:much longer|for much longer|anymore)|{_METHOD})\b"),
        ("self_harm",
         r"\b(?:mich umbringen|mir das leben nehmen|selbstmord|suizid|nicht mehr leben (?:will|möchte)|"
         r"will sterben)\b"),
        ("threat",
         r"\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna) "
         r"(?:kill|shoot|stab|hurt|beat|burn|blow up|bomb|attack|strangle) (?:you|him|her|them|everyone|"
         r"your (?:staff|office|branch|family|manager))|"
         r"(?:bomb|gun|shoot(?:ing)?) (?:at|in|to) (?:your|the) (?:branch|office|bank|store)|"
         r"i know where you (?:live|work)|i know where your (?:office|branch|house|family) is|"
         r"watch your back|watch yourself when you)\b"),
        ("threat", r"\b(?:ich (?:bringe|bring) (?:dich|sie|euch) um|ich werde (?:dich|sie|euch) (?:umbringen|töten))\b"),
        ("harmful_request",
         r"\b(?:how (?:do i|to|can i|would i)|instructions for|steps to|tutorial on|help me)\b"
         r"[\w\s,']{0,40}?\b(?:make|build|synthesi[sz]e|cook|produce|obtain|buy)\b[\w\s,']{0,30}?"
         r"\b(?:(?<!bath )(?<!photo )(?<!seed )(?<!glitter )bomb|explosive|weapon(?! against)|meth(?:amphetamine)?|"
         r"nerve agent|poison(?! (?:control|ivy))|ricin|sarin|chemical weapon|bioweapon|ghost gun|"
         r"silencer(?! for (?:my|the|a|our) (?:\w+ )?(?:car|exhaust|van|bike|motorbike|generator|truck))|"
         r"malware(?! (?:removal|protection|scan|scanner|check|checker|cover|insurance))|ransomware(?! (?:cover|insurance|protection))|"
         r"counterfeit(?! (?:detection|detector|check|checker|pen|notes? checker)))\b"),
        # Laundering only as a request to do it: callers whose payment was held for
        # anti-money-laundering checks say "money laundering" every day.
        ("harmful_request",
         r"\b(?:how (?:do i|to|can i|would i|could i|do you|does one|do people)|help me|teach me|show me|"
         r"(?:the )?(?:best|easiest|quickest|safest) ways? to|ways to|can you|could you|i (?:want|need|have) to|"
         r"i'?m (?:going|trying) to|i am (?:going|trying) to)\b[\w\s,']{0,30}?\blaunder(?:ing)? "
         r"(?:the |my |this |some |all )?(?:money|cash|funds|proceeds)\b"),
        ("harmful_request",
         r"\b(?:steal (?:someone'?s |a )?identity|"
         r"(?:hack|break) into (?:someone|an?|his|her|their|my ex'?s?)|"
         r"access (?:someone else'?s|another (?:person|customer)'?s|my (?:ex|neighbou?r)'?s) account)\b"),
    )
)


# Every pattern above needs one of these words (a test checks it): a set lookup
# per word first, the patterns only when one is there.
TRIGGER_WORDS = frozenset("""
kill killing end ending take life suicide suicidal thoughts die wanna live alive anymore hurt hurting
harm harming cut cutting self reason better worth overdose umbringen leben selbstmord suizid
sterben will shoot shooting stab beat burn blow bomb attack gun pay watch bringe strangle
bring töten explosive explosives weapon weapons meth methamphetamine nerve poison ricin sarin
chemical bioweapon silencer malware ransomware counterfeit launder laundering money steal
identity hack break access point nobody wake won wont where strangle
lethal fatal deadly overdosing overdosed pills tablets meds medication medicine painkillers antidepressants
paracetamol acetaminophen tylenol ibuprofen aspirin insulin wrist wrists artery arteries vein veins throat
jugular carotid myself noose brains bullet pistol jump jumping step stepping lie lying lay laying drive driving
way ways method methods means go
longer
""".split())
WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    kind: str  # "" when none; else self_harm | threat | abuse | harmful_request
    source: str = ""  # "pattern", "model" (n-grams alone) or "encoder" (n-grams + embedding)
    score: float = 0.0  # the model's probability for ``kind`` (0 for a pattern hit)

    def evidence(self) -> dict[str, object]:
        return {"kind": self.kind, "detector": self.source, "score": round(self.score, 3)}


# The same text as speech-to-text and tweets write it, letter for letter (so a
# match's offsets hold in the original): "don’t", "don t" -> "don't"; "i m" -> "i'm".
_QUOTES = str.maketrans("’‘`´", "''''")
_SPLIT_CONTRACTION = re.compile(
    r"\b(?:(do|does|did|wo|would|ca|could|should|is|are|was|were|have|has|had|ai)n) (t)\b|\b(i) (m|ll|ve|d)\b", re.I)


def _spoken(text: str) -> str:
    return _SPLIT_CONTRACTION.sub(lambda m: f"{m[1]}n't" if m[1] else f"{m[3]}'{m[4]}", text.translate(_QUOTES))


# A self-harm phrase is the caller's own statement unless the words just before it
# say otherwise. Negation is local: a "not", "don't", "won't", "never" governing that
# very verb phrase, with at most a few adverbs or a "want to" / "going to" between
# ("I don't want to die", "I won't kill myself", "I'd never really want to die"); a
# negation further back governs something else ("I don't know if I want to die",
# "I'm not okay, I want to die": both stay hits). "can't" is not a negation of intent
# ("I can't kill myself because of my kids" is ideation), nor is "not to" ("I'm
# trying not to kill myself" tells of the urge). Reported speech: someone else tells
# the caller to ("people tell me to kill myself", "he said I should kill myself", "I
# get told to kill myself"). Hyperbole stays a hit (an unnegated "I want to die"
# always reaches a person), except the old "makes me want to die", left to the models
# since issue 10, and the idiom "the hill I want to die on".
_NEGATOR = (r"(?:not|never|don't|dont|do not|doesn't|doesnt|does not|didn't|didnt|did not|won't|wont|will not|"
            r"wouldn't|wouldnt|would not)")
_BETWEEN = (r"(?:really|even|ever|actually|honestly|truly|seriously|necessarily|just|literally|want to|wanna|"
            r"wanted to|going to|gonna|plan(?:ning)? to|intend(?:ing)? to|mean to|try(?:ing)? to|have to|"
            r"need to|feel like|think i'd|think i'll|think i would|think i will|be)")
_NEGATED = re.compile(rf"\b{_NEGATOR} (?:{_BETWEEN} ){{0,3}}$|\b(?:makes?|made|making) me $", re.I)
_REPORTED = re.compile(
    r"\b(?:tell|tells|told|telling|ask|asks|asked|asking|want|wants|wanted|wanting|expects?|expected|expecting|"
    r"urg(?:e|es|ed|ing)|encourag(?:e|es|ed|ing)|dar(?:e|es|ed|ing)|beg|begs|begged|begging|forc(?:e|es|ed|ing)|"
    r"push(?:es|ed|ing)?|pressur(?:e|es|ed|ing)) (?:me|him|her|them|us|you|u) to (?:(?:go|just|and|go and) )*$|"
    r"\b(?:told|asked|dared|urged|encouraged) to (?:(?:go|just|and|go and) )*$|"
    r"(?<!\bi )\b(?:tell|tells|told|telling|say|says|said|saying) (?:me )?(?:that )?i should (?:(?:just|go) )*$",
    re.I)
# Command voices and intrusive thoughts are the caller's own risk, never reported speech:
# "the voices tell me to kill myself", "my mind keeps telling me to end it all".
_INNER_VOICE = re.compile(r"\b(?:voices?|my (?:own )?(?:mind|head|brain|thoughts?)|something (?:inside|in my head)|"
                          r"(?:a|this|the|these) (?:thought|urge)s?)\b", re.I)
# "want to die" with another subject: "people who want to die", "if you want to die".
_OTHER_SUBJECT = re.compile(
    r"\b(?:you|u|they|he|she|who|people|ppl|someone|somebody|everyone|everybody|nobody) "
    r"(?:(?:really|just|all|ever|even|still|also) )?$", re.I)
# An injury told as an accident is a claim, not self-harm: "I cut myself on the broken glass
# in your store", "I hurt myself at work", "I fell and hurt myself", "I accidentally cut
# myself", "cut myself a slice of cake". Only "hurt / harm / cut myself" is read so; the
# words that make it self-harm stay hits ("on purpose", "on my arms", "again", "with a
# razor"), and the models still read every final the floor leaves.
_BODY = r"(?:arms?|legs?|wrists?|thighs?|stomach|belly|body|skin|hips?|ankles?|chest|face)"
_ACCIDENT_AFTER = re.compile(
    r"(?: (?:badly|quite badly|really badly|pretty badly|a bit|a little|slightly))?"
    r" (?:by accident|accidentally|shaving|cooking|chopping|slicing|opening|gardening|playing|lifting|moving|laughing|"
    r"at work|at the gym|at (?:your|the|my|our) (?:store|shop|branch|office|station|site|work|job|house|home)|"
    r"in (?:a|an|the) (?:fall|accident|crash|collision|kitchen|garden)|"
    r"a (?:slice|piece|bit|chunk|wedge|bowl|plate)\b|some (?:bread|cake|cheese|pie|meat)|"
    r"on (?!purpose\b|(?:the )?(?:weekends?|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|bad days|days|nights)\b|"
    rf"(?:my|both|the|each) (?:\w+ )?{_BODY}\b)(?:a|an|the|some|your|their|his|her|this|that|broken|sharp|rusty)\b)",
    re.I)
_ACCIDENT_BEFORE = re.compile(
    r"\b(?:accidentally|by accident|(?:fell|fallen|slipped|tripped|stumbled|crashed)(?: over| down| up)? and)"
    r" (?:\w+ ){0,2}$", re.I)
_I_DID = re.compile(r"\bi(?:'ve| have| had| nearly| almost| just| actually| once| already)* $", re.I)
# Service-call senses of the floor's phrases, set aside by the words after them: going on
# *with* a complaint, ending it all *with* a provider, not wanting to live *in* an area, a
# policy's self-harm *cover*, ending one's life *insurance*, taking out one's life *savings*. "going on with my life", "end it all with pills" and
# "I don't want to live with this pain" stay hits.
_SERVICE_SENSE = {
    "going on": re.compile(r" (?:with (?!(?:my |this |)life\b|living\b|it all\b)|about\b|and on\b)", re.I),
    "end it all": re.compile(
        r" with (?:you(?: guys| lot| people| all)?\b(?! (?:know|see)\b)|(?:your|this|that|the) (?:\w+ )?"
        r"(?:company|bank|provider|insurer|insurance|guys|lot|people|service|accounts?|contract|network|app|"
        r"firm|business|place|card)\b)", re.I),
    # a place, never "in this world", "on this earth", "in pain"
    "want to live": re.compile(
        r" (?:(?:in|at|near|next to) (?:this|that|the|a|my|our|their|his|her) (?:\w+ )?(?:area|town|city|village|"
        r"country|flat|house|home|apartment|street|neighbou?rhood|building|estate|county|road|block|suburb|"
        r"part of town)|here|there|abroad|alone|at home|with (?:him|her|them|my (?:parents|mum|mom|dad|ex|family)))\b",
        re.I),
    "self harm": re.compile(r" (?:cover|covered|coverage|exclusions?|excluded|clauses?|claims?)\b", re.I),
    # "life" as the first half of a compound: ending a life insurance policy, taking out life savings
    "life": re.compile(r" (?:insurance|assurance|cover|policy|policies|savings?|membership|plan|pension|annuity|"
                       r"fund|premiums?|protection|bond|isa|investment|account|story|partner|subscription)\b", re.I),
}
_POLICY_TOPIC = re.compile(r"\b(?:cover(?:ed|s)?|coverage|insured|exclud(?:e|es|ed)|exclusions?|policy|policies)"
                           r" (?:for |of |on |against )?(?:\w+ )?$", re.I)
# An injury meant is never an accident: "I'm going to hurt myself at work", "I want to cut myself".
_MEANT = re.compile(r"\b(?:want(?:ed|s)? to|wanna|going to|gonna|will|'ll|might|plan(?:ning)? to|"
                    r"thinking (?:about|of)|urges? to|feel like|tempted to|about to) (?:\w+ )?$", re.I)
# Someone else's overdose: "my brother died of an overdose", "after her overdose".
_OTHERS_OVERDOSE = re.compile(
    r"\b(?:(?:died|dying|dead|death|passed away|passed|lost (?:him|her|them|\w+))"
    r" (?:of|from|to|after|through|due to|because of)|his|her|their|your|\w+'s)"
    r" (?:an? |the )?(?:accidental |drug |heroin |opioid |fentanyl |suspected )?$", re.I)
# The idiom: "is this the hill I want to die on", "I want to die on this hill".
_HILL = re.compile(r"\bhills? (?:that |which )?(?:i|you|we|they|u) (?:\w+ )?$", re.I)
_ON_HILL = re.compile(r" on (?:this|that|the|a) hill\b", re.I)


# A threat's verb in an everyday idiom is not a threat: "I'll shoot you an email", "I'll
# burn you a copy" (send or make someone a thing), "I'll beat you to it / to the punch / at
# your own game", "I'm going to hurt her feelings", "I'll kill them with kindness". Each
# verb has its own idioms, read right after its object, so "I'll kill you at your office",
# "shoot you in the head", "beat you to death", "beat you up" and every bare "I'll kill
# you" stay hits.
_SENT = (r" (?:a|an|some|over|across|back)(?: quick| short| little| new| copy of| couple of)?"
         r" (?:e-?mails?|mails?|texts?|messages?|notes?|lines?|dms?|pms?|links?|copy|copies|cds?|dvds?|"
         r"quotes?|invoices?|letters?|reply|replies|response|questions?|call|ring|update|details|form|file)\b")
_FLOOD = r" with (?:questions|complaints|e-?mails|calls|letters|paperwork|messages|texts)\b"
_THREAT_IDIOM = {verb: re.compile(rx, re.I) for verb, rx in (
    ("shoot", _SENT), ("burn", _SENT),
    ("beat", r" (?:to it\b|to the punch|at (?:it|this|that|their|your|his|her|my|our|the|a)? ?(?:own )?"
             r"(?:game|chess|cards|poker|golf|tennis|pool|price|offer)s?\b)"),
    ("hurt", r" (?:feelings|chances|credit|score|business|reputation|pride|prospects)\b"),
    ("kill", r" with (?:kindness|complaints|emails|calls|questions|paperwork)\b"),
    ("attack", _FLOOD), ("bomb", _FLOOD),
)}


# Another person's account with a legal authority is a process, not a request for harm: a
# power of attorney, an executor, a deputy. The auth gate still checks that authority.
_AUTHORITY = re.compile(
    r"\b(?:(?:lasting )?power of attorney|attorney|executor|executrix|administrator of|deputy(?:ship)?|probate|"
    r"bereavement|deceased|appointee|third[- ]party mandate|on (?:their|his|her) behalf|"
    r"(?:late|dead|passed) (?:mum|mom|mother|dad|father|husband|wife|partner|son|daughter|brother|sister|"
    r"nan|gran|grandma|grandad|grandfather|grandmother|aunt|uncle))\b", re.I)


def _idiom(text: str, m: re.Match[str]) -> bool:
    """Whether a threat hit ("i'll shoot you") goes on as its verb's idiom ("... an email")."""
    words = m[0].lower().split()
    rx = _THREAT_IDIOM.get(words[-2]) if len(words) >= 2 else None
    return bool(rx and rx.match(text, m.end()))


# What each idiom means, in words the models read literally ("I'll send you an email").
_LITERAL = {"shoot": "send", "burn": "make", "beat": "pass", "hurt": "upset", "kill": "treat",
            "attack": "flood", "bomb": "flood"}


def literal(text: str) -> str:
    """``text`` with each threat verb that the floor read as an idiom in its literal sense.

    The models learnt "I'll shoot you" as a threat and read "I'll shoot you an email" so;
    teaching them the idioms cost threat recall (docs/benchmarks.md), so they read the
    literal words instead. Only the idiom's verb changes: a real threat in the same text
    ("... and then I'll shoot you") stays as it was, and the floor reads the original."""
    if TRIGGER_WORDS.isdisjoint(WORD_RE.findall(text.lower())):
        return text
    spans = []  # (start, end, literal verb) of each idiom's verb
    for kind, rx in RISK:
        if kind == "threat":
            for m in rx.finditer(text):
                if _idiom(text, m):
                    verb = m[0].split()[-2]
                    at = m.start() + m[0].lower().rfind(f" {verb.lower()} ") + 1
                    spans.append((at, at + len(verb), _LITERAL[verb.lower()]))
    out, last = [], 0
    for a, b, word in sorted(spans):
        out.append(text[last:a] + word)
        last = b
    return "".join(out) + text[last:]


def detect_risk(text: str) -> str:
    """The first risk kind the patterns find ("" when none)."""
    if TRIGGER_WORDS.isdisjoint(WORD_RE.findall(text.lower())):
        return ""
    return scan_patterns(text)


def scan_patterns(text: str) -> str:
    """``detect_risk`` without the trigger-word shortcut (tests compare the two)."""
    spoken = _spoken(text)
    for kind, rx in RISK:
        for m in rx.finditer(spoken if kind == "self_harm" else text):
            if kind == "self_harm" and _not_mine(spoken, m):
                continue
            if kind == "threat" and _idiom(text, m):
                continue
            if kind == "harmful_request" and m[0].lower().startswith("access") and _AUTHORITY.search(text):
                continue
            return kind
    return ""


def _not_mine(text: str, m: re.Match[str]) -> bool:
    """Whether the words around a self-harm hit negate it, make it someone else's or an idiom."""
    before = text[max(0, m.start() - 60):m.start()]
    if _NEGATED.search(before) or (_REPORTED.search(before) and not _INNER_VOICE.search(before)):
        return True
    hit = m[0].lower()
    if hit.endswith("myself") and hit.startswith(("hurt", "harm", "cut")):
        return not _MEANT.search(before) and bool(_ACCIDENT_BEFORE.search(before)
                                                  or _ACCIDENT_AFTER.match(text, m.end()))
    if hit == "overdose":
        return bool(_OTHERS_OVERDOSE.search(before))
    for tail, rx in _SERVICE_SENSE.items():
        if hit.replace("-", " ").replace("wanna", "want to").endswith(tail) and (
                rx.match(text, m.end()) or (tail == "self harm" and _POLICY_TOPIC.search(before))):
            return True
    if hit == "overdosed":  # the caller's own only: "I overdosed", not "my brother overdosed"
        return not _I_DID.search(before)
    if not hit.startswith(("want", "wanna")):
        return False
    after = text[m.end():m.end() + 20]
    return bool(_OTHER_SUBJECT.search(before) or _ON_HILL.match(after)
                or (_HILL.search(before) and after.lower().startswith(" on")))


@dataclass(frozen=True, slots=True)
class RiskModel:
    kinds: dict[str, LinearModel]

    def scores(self, text: str) -> dict[str, float]:
        return {k: m.score(text) for k, m in self.kinds.items()}

    def classify(self, text: str) -> tuple[str, float]:
        """(kind, probability) of the kind furthest over its threshold, or ("", best probability)."""
        best, best_p, margin = "", 0.0, 1.0
        for kind, m in self.kinds.items():
            p = m.score(text)
            if p >= m.threshold and p / m.threshold >= margin:
                best, best_p, margin = kind, p, p / m.threshold
            elif not best:
                best_p = max(best_p, p)
        return best, best_p


@dataclass(frozen=True, slots=True)
class RiskHead:
    """Logistic regressions over a sentence embedding, one column per kind, and the
    thresholds of the combined (n-gram + embedding) log-odds per kind."""

    kinds: tuple[str, ...]
    W: np.ndarray  # (dim, len(kinds))
    b: np.ndarray  # (len(kinds),)
    thresholds: dict[str, float]  # on the mean log-odds of the two views
    dim: int

    def logits(self, embedding: np.ndarray) -> np.ndarray:
        return np.asarray(embedding, dtype=np.float32) @ self.W + self.b

    def classify(self, model: RiskModel, text: str, embedding: np.ndarray) -> tuple[str, float]:
        """(kind, combined probability) of the kind furthest over its threshold, or ("", best)."""
        z_head = self.logits(embedding)
        best, best_p, margin = "", 0.0, -math.inf
        for i, kind in enumerate(self.kinds):
            z = (_logit(model.kinds[kind].score(text)) + float(z_head[i])) / 2
            p = 1.0 / (1.0 + math.exp(-z))
            over = z - self.thresholds[kind]
            if over >= 0 and over > margin:
                best, best_p, margin = kind, p, over
            elif not best:
                best_p = max(best_p, p)
        return best, best_p


def _logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


@lru_cache(maxsize=1)
def load_risk_head() -> RiskHead | None:
    data = bundled_json_gz("guard_risk_head.json.gz")
    if data is None:
        return None
    kinds = tuple(data["kinds"])
    W = np.array(data["W"], dtype=np.float32)
    return RiskHead(kinds=kinds, W=W, b=np.array(data["b"], dtype=np.float32),
                    thresholds={k: float(v) for k, v in data["thresholds"].items()}, dim=W.shape[0])


@lru_cache(maxsize=1)
def load_risk_model() -> RiskModel | None:
    data = bundled_json_gz("guard_risk.json.gz")
    if data is None:
        return None
    return RiskModel(kinds={k: LinearModel(weights=v["weights"], bias=v["bias"], threshold=v["threshold"])
                            for k, v in data["kinds"].items()})


def assess_risk(text: str, *, final: bool = True, embedding: np.ndarray | None = None) -> RiskVerdict:
    """Patterns on any text; the models on finals (``final=False``: patterns only).

    ``embedding`` is the final's sentence embedding (the Route gate's, of ``literal`` of the
    number-shaped text, which is the text itself unless it holds a threat verb's idiom):
    with it the n-gram and embedding views decide together (source ``"encoder"``);
    without it the n-gram model alone (source ``"model"``)."""
    kind = detect_risk(text)
    if kind:
        return RiskVerdict(kind, "pattern")
    if not final or (model := load_risk_model()) is None:
        return RiskVerdict("")
    head = load_risk_head() if embedding is not None else None
    words = literal(text)  # the models read an idiom's literal sense ("I'll send you an email")
    if head is not None and embedding is not None and embedding.shape[-1] == head.dim:
        kind, p = head.classify(model, words, embedding)
        source = "encoder"
    else:
        kind, p = model.classify(words)
        source = "model"
    return RiskVerdict(kind, source, p) if kind else RiskVerdict("")
