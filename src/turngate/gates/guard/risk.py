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

Between "self-harm" and nothing there is a *concern*: a final whose combined self-harm
score falls just under its threshold ("what's the point of paying it off, I won't be here
next year"). Passive statements sit there, and so do a few look-alikes; the threshold that
keeps look-alikes out cannot also take them in. A concern is not a verdict: the Guard gate
asks the caller whether they are safe (``welfare.py``) and the answer decides.

The models run on finals: a partial ("I could kill ...") is not yet what the
caller said, and partials must stay fast (patterns only). A model's "abuse" stands only
when the words are aimed at someone (``risk_senses.at_a_person``): the models learnt swear
words, and a caller swearing at the situation is frustrated, not abusive.

Every hit escalates to a person (``gate.guard_input``); the verdict says which
detector fired and why, for the decision log and the CRM note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from ...data import bundled_json_gz
from .injection import LinearModel
from .risk_senses import (A_PLACE, AUTHORITY, GONE_ON_WITH, HARM_A_PERSON, HARM_A_PERSON_WORDS, LIFE_COMPOUND,
                          LITERAL, POLICY_TERM, PROVIDER, THREATENED, TRIVIAL_DOSE, VIOLENCE_WISHED,
                          VIOLENCE_WISHED_WORDS, a_closing, against_caller, at_a_person,
                          denied_or_quoted, make_believe, not_mine, threat_idiom)

# Always a person's call. "threatened": the caller says someone threatens them (safeguarding).
PERSON_KINDS = ("self_harm", "threat", "threatened", "abuse")
# Abuse with no one named in the words stands only this far (log-odds) past its threshold: a
# slur or a group called vermin names no "you" and is abuse; swearing at the situation ("this
# is a fucking joke") sits near the threshold. Chosen on the licensed sets' validation split:
# the middle of the gap between the unaimed benign rows (up to 1.24) and the unaimed abuse
# rows (from 3.45): `bench/guard.py --abuse-margins` (docs/benchmarks.md, "Issue 10, seventh pass").
ABUSE_UNAIMED_OVER = 2.3
# A self-harm score this close under its threshold (log-odds, the encoder's combined view) is
# a concern, not a verdict: the agent asks whether the caller is safe (``welfare.py``) rather
# than handing over or going on. Chosen on the validation split only: the widest band in which
# plain service text gets the question at most once in a thousand turns (1 of 5,100 at 1.1)
# and the written look-alikes at most one in twenty (7 of 178); `bench/guard.py --welfare-band`
# (docs/benchmarks.md, "Issue 10, tenth pass"), and none of the bundled policy's own route
# examples: its cancellation example "i'm thinking of leaving you" sits 1.11 under the line,
# so the 1.4 the first two conditions allow since the models read bare contractions with
# their apostrophe would ask it ("twelfth pass").
WELFARE_CHECK_BELOW = 1.1

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
    rf"(?:lethal|fatal|deadly) (?:dose|amount|quantity|overdose)s?|overdos(?:e|ing) on(?!{TRIVIAL_DOSE})|"
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
    r"(?:hang|hanging|hanged|hung) myself(?! out to dry)|(?:tie|tied|tying|make|made|making|buy|bought) (?:a|the|my) noose|"
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

@dataclass(frozen=True, slots=True)
class Floor:
    """One floor pattern. ``kind`` is the reason code; a hit is set aside when ``unless``
    (the text searched, the hit) says the words around it make it someone else's or another
    sense (``risk_senses``); ``needs``: words one of which every hit holds, so a text with
    none of them skips this pattern (only for the long ones; ``TRIGGER_WORDS`` gates all)."""

    kind: str
    rx: re.Pattern[str]
    unless: Callable[[str, re.Match[str]], bool] | None = None
    needs: frozenset[str] = frozenset()


def _harm_asked_aside(text: str, m: re.Match[str]) -> bool:
    return threat_idiom(text, m) or make_believe(text)


def _violence_wished_aside(text: str, m: re.Match[str]) -> bool:
    return threat_idiom(text, m) or make_believe(text) or denied_or_quoted(text, m)


def _authorised_access(text: str, m: re.Match[str]) -> bool:
    return m[0].lower().startswith("access") and AUTHORITY.search(text) is not None


# The self-harm patterns read a text in its spoken form (``_spoken``: "don t", "don’t" ->
# "don't"), the others as written.
RISK: tuple[Floor, ...] = tuple(
    Floor(kind, re.compile(rx, re.I), *rest) for kind, rx, *rest in (
        ("self_harm",
         rf"\b(?:kill(?:ing)? myself|end(?:ing)? (?:my (?:own )?life(?!{LIFE_COMPOUND})|it all(?!{PROVIDER}))|"
         rf"take my (?:own )?life(?!{LIFE_COMPOUND})|"
         r"(?:i'?m|i am|i feel|feeling|i'?ve been|been) suicidal|suicidal thoughts|"
         r"(?:commit|committing|attempt(?:ing)?|thinking (?:about|of)|considering|contemplating) suicide|"
         rf"want to die|wanna die|(?:don'?t|do not) (?:want to|wanna) (?:live(?!{A_PLACE})|be alive|be here anymore)|"
         rf"(?:hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?) myself|self[- ]harm(?:ing|ed|er|s)|self[- ]harm(?!{POLICY_TERM})|"
         r"no reason to (?:live|go on|keep going)|"
         rf"better off (?:dead|without me)|not worth living|overdosed?(?! on{TRIVIAL_DOSE})|"
         rf"(?:don'?t|can'?t) see (?:the|any) point (?:of|in) (?:going on(?!{GONE_ON_WITH})|living|being alive|carrying on)|"
         rf"(?:no|any) point (?:in )?(?:going on(?!{GONE_ON_WITH})|living|being alive)|nobody would (?:miss|notice) (?:me|if i)|"
         r"(?:go to sleep|fall asleep) and (?:never|not) wake up|"
         r"(?:can'?t|cannot|can not) go on(?= *(?:$|[.!?;,]|any ?more\b|any longer\b|living\b))|"
         r"i won'?t be (?:around|here) (?:much longer|anymore|tomorrow)|"
         r"i(?: will not|'?m not going to| am not going to|'?m not gonna| am not gonna) be (?:around|here) "
         rf"(?:much longer|for much longer|anymore)|{_METHOD})\b", not_mine),
        ("self_harm",
         r"\b(?:mich umbringen|mir das leben nehmen|selbstmord|suizid|nicht mehr leben (?:will|möchte)|"
         r"will sterben)\b", not_mine),
        ("threat",
         r"\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna) "
         r"(?:kill|shoot|stab|hurt|beat|burn|blow up|bomb|attack|strangle) (?:you|him|her|them|everyone|"
         r"your (?:staff|office|branch|family|manager))|"
         r"(?:bomb|gun|shoot(?:ing)?) (?:at|in|to) (?:your|the) (?:branch|office|bank|store)|"
         r"i know where you (?:live|work)|i know where your (?:office|branch|house|family) is|"
         r"watch your back|watch yourself when you)\b", threat_idiom),
        ("threat", r"\b(?:ich (?:bringe|bring) (?:dich|sie|euch) um|ich werde (?:dich|sie|euch) (?:umbringen|töten))\b",
         threat_idiom),
        # asking how to kill or harm a person (risk_senses.HARM_A_PERSON)
        ("threat", HARM_A_PERSON, _harm_asked_aside, HARM_A_PERSON_WORDS),
        # calling for violence against a person or a branch (risk_senses.VIOLENCE_WISHED)
        ("threat", VIOLENCE_WISHED, _violence_wished_aside, VIOLENCE_WISHED_WORDS),
        # after the caller's own threats: "he threatened me so I'll kill him" is a threat
        ("threatened", THREATENED, threat_idiom),
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
         r"access (?:someone else'?s|another (?:person|customer)'?s|my (?:ex|neighbou?r)'?s) account)\b",
         _authorised_access),
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
threaten threatens threatened threatening hits beats hurts attacks chokes strangles punches kicks batters
abuses hitting beating attacking choking punching kicking abusing scared afraid frightened terrified said says
told tells swore swears texted messaged wrote
lethal fatal deadly overdosing overdosed pills tablets meds medication medicine painkillers antidepressants
paracetamol acetaminophen tylenol ibuprofen aspirin insulin wrist wrists artery arteries vein veins throat
jugular carotid myself noose brains bullet pistol jump jumping step stepping lie lying lay laying drive driving
way ways method methods means go
longer
murder murdering strangling stabbing poisoning suffocate suffocating smother smothering drown drowning behead
beheading decapitate decapitating torture torturing kidnap kidnapping abduct abducting assassinate assassinating
snipe sniping slaughter slaughtering massacre massacring annihilate annihilating obliterate obliterating
eradicate eradicating exterminate exterminating euthanize euthanise euthanizing euthanising execute executing
overpower overpowering maim maiming assault assaulting rape raping blowing
hanged hung strung shot killed stabbed lynched beaten murdered burned burnt fire executed put gassed
slaughtered tortured beheaded strangled taken torch torches burns firebomb petrol
""".split())
WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    kind: str  # "" when none; else self_harm | threat | threatened | abuse | harmful_request
    source: str = ""  # "pattern", "model" (n-grams alone) or "encoder" (n-grams + embedding)
    score: float = 0.0  # the model's probability for ``kind`` (0 for a pattern hit)
    concern: str = ""  # no kind, but "self_harm" was within WELFARE_CHECK_BELOW of its threshold

    def evidence(self) -> dict[str, object]:
        return {"kind": self.kind or self.concern, "detector": self.source, "score": round(self.score, 3),
                **({"concern": True} if self.concern else {})}


# The same text as speech-to-text and tweets write it, letter for letter (so a
# match's offsets hold in the original): "don’t", "don t" -> "don't"; "i m" -> "i'm".
_QUOTES = str.maketrans("’‘`´", "''''")
_SPLIT_CONTRACTION = re.compile(
    r"\b(?:(do|does|did|wo|would|ca|could|should|is|are|was|were|have|has|had|ai)n) (t)\b|\b(i) (m|ll|ve|d)\b", re.I)


def _spoken(text: str) -> str:
    return _SPLIT_CONTRACTION.sub(lambda m: f"{m[1]}n't" if m[1] else f"{m[3]}'{m[4]}", text.translate(_QUOTES))


# Contractions typed without their apostrophe ("im fine thanks", "dont worry"), as chat,
# SMS and ``policy eval`` users type them. The models learnt the bare spellings from Reddit
# and twitter posts, where they are common and most of the writers were at risk, so "im ok"
# scored self-harm 0.99 and "i'm ok" 0.02: a spelling, not a risk. The models read them with
# the apostrophe. Bare spellings that are words of their own ("ill", "were", "its", "well",
# "hell", "shell", "id", "lets", "wed") are left alone.
_UNMARKED = {w.replace("'", ""): w for w in (
    "i'm", "i've", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "weren't", "can't", "won't",
    "couldn't", "wouldn't", "shouldn't", "haven't", "hasn't", "hadn't", "ain't", "mustn't", "needn't",
    "you're", "you've", "you'll", "they're", "they've", "they'll", "we've", "that's", "what's", "there's",
    "who's")}
_UNMARKED_RE = re.compile(rf"\b({'|'.join(_UNMARKED)})\b", re.I)


def model_words(text: str) -> str:
    """What the risk models read of a final: its bare contractions spelled with their
    apostrophe, then ``literal``."""
    return literal(_UNMARKED_RE.sub(lambda m: _UNMARKED[m[1].lower()], text))


def literal(text: str) -> str:
    """``text`` with each threat verb that the floor read as an idiom in its literal sense.

    The models learnt "I'll shoot you" as a threat and read "I'll shoot you an email" so;
    teaching them the idioms cost threat recall (docs/benchmarks.md), so they read the
    literal words instead. Only the idiom's verb changes: a real threat in the same text
    ("... and then I'll shoot you") stays as it was, and the floor reads the original."""
    words = set(WORD_RE.findall(text.lower()))
    if TRIGGER_WORDS.isdisjoint(words):
        return text
    spans = []  # (start, end, literal verb) of each idiom's verb
    for f in RISK:
        if f.kind == "threat" and not (f.needs and f.needs.isdisjoint(words)):
            for m in f.rx.finditer(text):
                if threat_idiom(text, m):
                    verb = m[0].split()[-2]
                    at = m.start() + m[0].lower().rfind(f" {verb.lower()} ") + 1
                    spans.append((at, at + len(verb), LITERAL[verb.lower()]))
    out, last = [], 0
    for a, b, word in sorted(spans):
        out.append(text[last:a] + word)
        last = b
    return "".join(out) + text[last:]


def detect_risk(text: str) -> str:
    """The first risk kind the patterns find ("" when none)."""
    words = set(WORD_RE.findall(text.lower()))
    if TRIGGER_WORDS.isdisjoint(words):
        return ""
    return scan_patterns(text, words)


def scan_patterns(text: str, words: set[str] | None = None) -> str:
    """``detect_risk`` without the trigger-word shortcuts unless ``words`` (the text's words)
    are given (tests compare the two)."""
    spoken = _spoken(text)
    for f in RISK:
        if words is not None and f.needs and f.needs.isdisjoint(words):
            continue  # a long pattern none of whose words is here
        searched = spoken if f.kind == "self_harm" else text
        for m in f.rx.finditer(searched):
            if f.unless is None or not f.unless(searched, m):
                return f.kind
    return ""


@dataclass(frozen=True, slots=True)
class RiskModel:
    kinds: dict[str, LinearModel]

    def scores(self, text: str) -> dict[str, float]:
        return {k: m.score(text) for k, m in self.kinds.items()}

    def classify(self, text: str, skip: tuple[str, ...] = ()) -> tuple[str, float]:
        """(kind, probability) of the kind furthest over its threshold, or ("", best probability);
        ``skip``: kinds not to consider."""
        best, best_p, margin = "", 0.0, 1.0
        for kind, m in self.kinds.items():
            if kind in skip:
                continue
            p = m.score(text)
            if p >= m.threshold and p / m.threshold >= margin:
                best, best_p, margin = kind, p, p / m.threshold
            elif not best:
                best_p = max(best_p, p)
        return best, best_p

    def over(self, kind: str, p: float) -> float:
        """How far ``p`` is past ``kind``'s threshold, in log-odds."""
        return _logit(p) - _logit(self.kinds[kind].threshold)


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

    def log_odds(self, model: RiskModel, text: str, embedding: np.ndarray) -> dict[str, float]:
        """Per kind, the mean of the n-gram model's and this head's log-odds."""
        z_head = self.logits(embedding)
        return {kind: (_logit(model.kinds[kind].score(text)) + float(z_head[i])) / 2
                for i, kind in enumerate(self.kinds)}

    def classify(self, model: RiskModel, text: str, embedding: np.ndarray,
                 skip: tuple[str, ...] = ()) -> tuple[str, float]:
        """(kind, combined probability) of the kind furthest over its threshold, or ("", best)."""
        return self.pick(self.log_odds(model, text, embedding), skip)

    def pick(self, log_odds: dict[str, float], skip: tuple[str, ...] = ()) -> tuple[str, float]:
        """``classify`` of combined log-odds already computed."""
        best, best_p, margin = "", 0.0, -math.inf
        for kind, z in log_odds.items():
            if kind in skip:
                continue
            p = 1.0 / (1.0 + math.exp(-z))
            over = z - self.thresholds[kind]
            if over >= 0 and over > margin:
                best, best_p, margin = kind, p, over
            elif not best:
                best_p = max(best_p, p)
        return best, best_p

    def over(self, kind: str, p: float) -> float:
        """How far the combined probability ``p`` is past ``kind``'s threshold, in log-odds."""
        return _logit(p) - self.thresholds[kind]


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
    words = model_words(text)  # an idiom in its literal sense ("I'll send you an email"); "im" as "i'm"
    view: RiskHead | RiskModel
    z: dict[str, float] = {}
    if head is not None and embedding is not None and embedding.shape[-1] == head.dim:
        z = head.log_odds(model, words, embedding)  # once: the verdict and the concern band read it
        view, source, classify = head, "encoder", partial(head.pick, z)
    else:
        view, source, classify = model, "model", partial(model.classify, words)
    kind, p = classify()
    if kind == "abuse" and not at_a_person(text) and view.over(kind, p) < ABUSE_UNAIMED_OVER:
        # Sworn at the situation, not at anyone: not abuse. Another kind over its threshold
        # still stands ("I'm worthless, I can't do this anymore" may read as abuse first).
        kind, p = classify(skip=("abuse",))
    if kind == "threat" and against_caller(text):
        kind = "threatened"  # the models learnt violent words, not who threatens whom
    if kind:
        return RiskVerdict(kind, source, p)
    if isinstance(view, RiskHead):
        sh = z["self_harm"]
        # the band first: ``explained`` scans the floor's long patterns, and few finals are near the line
        if sh - view.thresholds["self_harm"] >= -WELFARE_CHECK_BELOW and not explained(text):
            return RiskVerdict("", source, 1.0 / (1.0 + math.exp(-sh)), concern="self_harm")
    return RiskVerdict("")


_EVERYDAY_COMPOUND = re.compile(rf"\b(?:life{LIFE_COMPOUND}|self[- ]harm{POLICY_TERM})", re.I)


def explained(text: str) -> bool:
    """Whether the text's words are explained in another sense: a self-harm hit the floor set
    aside (negated, someone else's, an accident, a topic), a compound ("life insurance"), or
    only the words that close a call ("thank you, goodbye"). Such words raise no concern: "I
    fell and hurt myself on your stairs" is a claim to handle, not a caller to ask whether
    they are safe."""
    spoken = _spoken(text)
    if _EVERYDAY_COMPOUND.search(spoken) or a_closing(spoken):
        return True
    return any(f.unless is not None and f.unless(spoken, m)
               for f in RISK if f.kind == "self_harm" for m in f.rx.finditer(spoken))
