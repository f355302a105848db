"""Risk that must reach a person: self-harm, threats, abuse of the agent; and requests for harm.

Theory of operation. A floor of patterns, then two model views on finals:

1. ``RISK``: patterns, the floor. They run on every text (partials included)
   behind a trigger-word set, so an ordinary utterance costs a few set lookups.
   They hold what must never be missed whatever a model says ("kill myself",
   "I know where you live") and the requests for harmful content (weapons,
   drugs, fraud), which no model here learns.
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

# (kind, pattern); kind is the reason code.
RISK: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.I)) for kind, rx in (
        ("self_harm",
         r"\b(?:kill(?:ing)? myself|end(?:ing)? (?:my (?:own )?life|it all)|take my (?:own )?life|"
         r"(?:i'?m|i am|i feel|feeling|i'?ve been|been) suicidal|suicidal thoughts|"
         r"(?:commit|committing|attempt(?:ing)?|thinking (?:about|of)|considering|contemplating) suicide|"
         r"want to die|wanna die|don'?t want to (?:live|be alive|be here anymore)|"
         r"(?:hurt|harm|cut)(?:ing)? myself|self[- ]harm|no reason to (?:live|go on|keep going)|"
         r"better off (?:dead|without me)|not worth living|overdose|"
         r"(?:don'?t|can'?t) see (?:the|any) point (?:of|in) (?:going on|living|being alive|carrying on)|"
         r"(?:no|any) point (?:in )?(?:going on|living|being alive)|nobody would (?:miss|notice) (?:me|if i)|"
         r"(?:go to sleep|fall asleep) and (?:never|not) wake up|"
         r"i won'?t be (?:around|here) (?:much longer|anymore|tomorrow))\b"),
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
kill killing end ending take life suicide suicidal thoughts die wanna live alive anymore hurt hurting
harm harming cut cutting self reason better worth overdose umbringen leben selbstmord suizid
sterben will shoot shooting stab beat burn blow bomb attack gun pay watch bringe strangle
bring töten explosive explosives weapon weapons meth methamphetamine nerve poison ricin sarin
chemical bioweapon silencer malware ransomware counterfeit launder laundering money steal
identity hack break access point nobody wake won wont where strangle
""".split())
WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    kind: str  # "" when none; else self_harm | threat | abuse | harmful_request
    source: str = ""  # "pattern", "model" (n-grams alone) or "encoder" (n-grams + embedding)
    score: float = 0.0  # the model's probability for ``kind`` (0 for a pattern hit)

    def evidence(self) -> dict[str, object]:
        return {"kind": self.kind, "detector": self.source, "score": round(self.score, 3)}


# "I don't want to die", "I'd never kill myself", "mondays make me want to die": a
# negation or hyperbole just before a self-harm phrase leaves the text to the model.
_NEGATED = re.compile(r"\b(?:not|never|don'?t|dont|do not|didn'?t|wouldn'?t|won'?t|can'?t|cannot)\b[\w\s']{0,12}$|"
                      r"\b(?:makes?|made|making) me $", re.I)


def detect_risk(text: str) -> str:
    """The first risk kind the patterns find ("" when none)."""
    if TRIGGER_WORDS.isdisjoint(WORD_RE.findall(text.lower())):
        return ""
    return scan_patterns(text)


def scan_patterns(text: str) -> str:
    """``detect_risk`` without the trigger-word shortcut (tests compare the two)."""
    for kind, rx in RISK:
        for m in rx.finditer(text):
            if kind == "self_harm" and _NEGATED.search(text[max(0, m.start() - 30):m.start()]):
                continue
            return kind
    return ""


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

    ``embedding`` is the final's sentence embedding (the Route gate's, for the same
    text): with it the n-gram and embedding views decide together (source
    ``"encoder"``); without it the n-gram model alone (source ``"model"``)."""
    kind = detect_risk(text)
    if kind:
        return RiskVerdict(kind, "pattern")
    if not final or (model := load_risk_model()) is None:
        return RiskVerdict("")
    head = load_risk_head() if embedding is not None else None
    if head is not None and embedding is not None and embedding.shape[-1] == head.dim:
        kind, p = head.classify(model, text, embedding)
        source = "encoder"
    else:
        kind, p = model.classify(text)
        source = "model"
    return RiskVerdict(kind, source, p) if kind else RiskVerdict("")
