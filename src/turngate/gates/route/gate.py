"""The Route gate: what the caller wants, on every partial and final.

Theory of operation
-------------------
``Router`` is trained once at start-up from the policy's route examples and is
immutable afterwards, so one instance serves every call. ``route_gate`` is a pure
function of (router, state, text, flags) returning a decision and the next state;
the state is a small frozen value the call keeps.

Partials are noisy and arrive many times a second, so the gate holds a route
rather than echoing the classifier:

* Nothing held yet: a route is taken once the same best class has been seen on
  ``stable_partials`` consecutive partials with at least ``min_confidence``
  (or on a final). Until then the outcome is ``hold``.
* A route is held: another class replaces it only when it beats the held
  route's own probability by ``drift_margin`` on ``stable_partials`` partials in
  a row (on a final, by ``switch_margin``, since a final is the settled text).
  Partials are cumulative, so after the route was taken in this turn the gate
  scores only the words said since (``anchor``): in "I want to pay my bill...
  actually no, cancel my subscription" the whole text is half and half, the new
  words are not. The final is scored the same way: after a drift in this turn,
  on the words since the route it replaced (``support``), so the settled text
  does not drag the route back.
  That change is **drift**, its own outcome, because the call may have to
  pre-empt the answer in flight (``agent_speaking``) or re-plan the turn.
* A weak final (below ``min_confidence``) does not move a held route: "yes,
  that's right" is an answer inside the current purpose, not a new purpose. Drift
  needs clear evidence: the new class must also reach ``drift_confidence`` (on
  partials and finals), so slot-filling answers ("in checking", "the 7th at 4 pm",
  "the one from Tuesday") stay in the flow.
  With nothing held, a weak final is ``unknown``.
* A control phrase ("stop, wait", "no", "uh-huh") while a route is held is turn
  control, not a new purpose: the route stays, whatever the classifier says.

The held route persists across turns (the agent is answering it); the stability
counter restarts at each final, since a new turn is new evidence.

Reason codes (``RouteDecision.reason``):

    control_phrase           hold: a few turn-control words while a route is held
    partial_too_short        hold: fewer than min_partial_chars
    awaiting_stability       hold: no route yet, partials do not agree (or are weak)
    stable_partials          route: taken from agreeing partials
    classifier_final         route: taken or confirmed on a final
    route_unchanged          hold: the partial agrees with the held route
    drift_below_margin       hold: another class leads, by less than drift_margin
    drift_unstable           hold: it leads by the margin, not yet on enough partials
    drift_margin             drift: the caller changed purpose
    drift_while_answering    drift: ... while the agent speaks (pre-empt the answer)
    weak_final_keeps_route   hold: a weak final inside the held purpose
    switch_below_margin      hold: a final leaning elsewhere, by less than switch_margin
    drift_not_clear          hold: a final leaning elsewhere below drift_confidence (an answer
                             inside the current flow, not a new request)
    follow_up_keeps_route    hold: ... a final that refers back to the flow ("what's his number?",
                             "yes, that one"), below followup_drift_confidence
    drift_not_confirmed      drift: back to the route a partial of this turn drifted from: the
                             final agrees with the drift below drift_confidence
    below_min_confidence     unknown: a weak final with nothing held
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from ...policy import Policy, RouteGateParams, RouteSpec
from .classifier import IntentClassifier

__all__ = [
    "RouteDecision",
    "RouteOutcome",
    "RouteScores",
    "RouteState",
    "Router",
    "route_gate",
]

RouteOutcome = Literal["route", "hold", "drift", "unknown"]
UNKNOWN = "unknown"
_CONTROL = frozenset("stop wait hold on hang no nope sorry actually excuse me uh um huh mm hmm yeah yes okay ok right".split())
_WORD = re.compile(r"[a-z']+")
_TOKEN = re.compile(r"[a-z']+|\d+")
_NUMBER_WORDS = frozenset("zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                          "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
                          "ninety hundred thousand double triple".split())
# Not "no", "actually", "instead": they open a correction, which may well be a new purpose.
_ANSWER_OPENERS = frozenset("yes yeah yep yup ok okay sure great perfect thanks thank fine good cool "
                            "alright right correct sounds awesome".split())
_BACK_REFERENCES = frozenset("that that's it it's this those these one ones he she him her his hers they them "
                             "their there other others else same".split())


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteScores:
    best: str
    confidence: float
    runner_up: str
    runner_up_confidence: float
    probs: Mapping[str, float]
    raw_best: str  # the best class before the out-of-scope floor

    def confidence_of(self, route: str) -> float:
        return self.probs.get(route, 0.0)


class Router:
    """The trained classifier plus the policy's route table. Immutable."""

    __slots__ = ("classifier", "routes", "params", "policy_version")

    def __init__(self, *, classifier: IntentClassifier, routes: Mapping[str, RouteSpec],
                 params: RouteGateParams, policy_version: str) -> None:
        self.classifier = classifier
        self.routes = routes
        self.params = params
        self.policy_version = policy_version

    @classmethod
    def from_policy(cls, policy: Policy, *, encoder: Any = None) -> Router:
        """Train once from the policy's examples. ``encoder`` overrides the
        policy's ``route_gate.encoder`` ("auto" loads MiniLM when installed, and
        encodes the examples afresh: the shell passes ``embedding.cache.for_policy``)."""
        if encoder is None and policy.route_gate.encoder == "auto":
            from ...embedding.minilm import load_if_available

            encoder = load_if_available()
        p = policy.route_gate
        texts: list[str] = []
        labels: list[str] = []
        for name, spec in policy.routes.items():
            extra = (spec.description,) if p.describe_routes and spec.description.strip() else ()
            for ex in (*spec.examples, *extra):
                texts.append(ex)
                labels.append(name)
        clf = IntentClassifier.fit(texts, labels, unknown_label=UNKNOWN, unknown_below=p.min_confidence,
                                   encoder=encoder, encoder_C=p.encoder_C, encoder_weight=p.encoder_weight,
                                   static_weight=0.5, static_C=10.0, final_static_weight=p.static_on_finals,
                                   encoder_center=p.encoder_center,
                                   encoder_tune_epochs=p.encoder_tune_epochs if encoder is not None else 0,
                                   encoder_tune_layers=p.encoder_tune_layers,
                                   encoder_tune_lr=3e-4 if p.encoder_tune_layers else 1e-3)
        return cls(classifier=clf, routes=policy.routes, params=policy.route_gate,
                   policy_version=policy.version)

    def embedding(self, text: str) -> np.ndarray | None:
        """The sentence embedding of a final as this router's encoder gives it (None without
        one): the Guard's risk model reads the same vector, so a final is encoded once."""
        return self.classifier.sentence_embedding(text)

    def classify(self, text: str, *, final: bool = False) -> RouteScores:
        """Scores for one utterance; out-of-scope comes out as ``unknown``.

        The sentence encoder, when the classifier has one, runs on finals only."""
        clf = self.classifier
        lp = clf.log_proba(text, use_encoder=final and clf.has_encoder)
        pred = clf.decide(lp)
        probs = MappingProxyType({lab: math.exp(float(v)) for lab, v in zip(clf.labels, lp)})
        return RouteScores(best=pred.label, confidence=pred.confidence, runner_up=pred.runner_up,
                           runner_up_confidence=pred.runner_up_confidence, probs=probs,
                           raw_best=pred.raw_label)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteState:
    held: str | None = None          # the route the call is on (persists across turns)
    candidate: str | None = None     # the class qualifying partials currently agree on
    candidate_count: int = 0         # ... for this many consecutive partials
    partials: int = 0                # partials seen in this caller turn
    anchor: int = 0                  # chars of this turn's text already accounted for by ``held``
    support: int = 0                 # where the words supporting ``held`` start in this turn
    drifted_from: str | None = None  # the route a partial of this turn drifted away from
    left: str | None = None          # the route the call was on before ``held`` (persists across turns)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision:
    outcome: RouteOutcome
    route: str
    confidence: float
    runner_up: str
    runner_up_confidence: float
    segment: str
    next_action: str
    reason: str
    rule: str
    final: bool
    agent_speaking: bool
    profile: str
    requires_auth: bool
    previous: str | None = None      # the held route before this decision
    margin: float = 0.0              # best minus the held route's probability
    text_chars: int = 0

    @property
    def preempts_response(self) -> bool:
        """Drift while the agent is answering: the answer in flight is for the wrong purpose."""
        return self.outcome == "drift" and self.agent_speaking

    def evidence(self) -> dict[str, Any]:
        # Names, scores and lengths only: never the text, even redacted.
        return {
            "route": self.route,
            "confidence": round(self.confidence, 4),
            "runner_up": self.runner_up,
            "runner_up_confidence": round(self.runner_up_confidence, 4),
            "previous": self.previous,
            "margin": round(self.margin, 4),
            "final": self.final,
            "agent_speaking": self.agent_speaking,
            "segment": self.segment,
            "next_action": self.next_action,
            "profile": self.profile,
            "requires_auth": self.requires_auth,
            "text_chars": self.text_chars,
        }


def route_gate(
    router: Router,
    state: RouteState,
    text: str,
    *,
    final: bool,
    agent_speaking: bool,
    segment: str = "standard",
) -> tuple[RouteDecision, RouteState]:
    """Decide the route for one partial or final. Pure: same inputs, same outputs."""
    p = router.params
    held = state.held
    n_chars = len(text.strip())

    def decide(outcome: RouteOutcome, route: str, reason: str, scores: RouteScores | None,
               margin: float = 0.0) -> RouteDecision:
        spec = router.routes.get(route) or router.routes[UNKNOWN]
        return RouteDecision(
            outcome=outcome,
            route=route,
            confidence=scores.confidence_of(route) if scores else 0.0,
            runner_up=(scores.runner_up if scores and scores.runner_up != route
                       else (scores.best if scores else UNKNOWN)),
            runner_up_confidence=(scores.runner_up_confidence if scores and scores.runner_up != route
                                  else (scores.confidence if scores else 0.0)),
            segment=segment,
            next_action=spec.next_action_for(segment),
            reason=reason,
            rule=spec.rule,
            final=final,
            agent_speaking=agent_speaking,
            profile=spec.profile,
            requires_auth=spec.requires_auth,
            previous=held,
            margin=margin,
            text_chars=n_chars,
        )

    if held is not None and _is_control_phrase(text):
        # Sure of the route: the caller is steering the turn, not changing purpose.
        d = replace(decide("hold", held, "control_phrase", None), confidence=1.0)
        return d, RouteState(held=held, left=state.left) if final else state

    if not final and n_chars < p.min_partial_chars:
        return decide("hold", held or UNKNOWN, "partial_too_short", None), state

    # Partials are cumulative, so once a route is held in this turn, what the
    # caller said *since* is the evidence for drift ("i want to pay my bill ...
    # actually no, cancel my subscription": the whole text is half and half, the
    # new words are not).
    # A final is scored on the words that support the route: the whole turn,
    # or after a drift in this turn, the words since the route it replaced.
    scored = text
    start = state.support if final else state.anchor  # anchor is 0 until a route is held
    if start > 0:
        tail = text[start:]
        if len(tail.strip()) >= p.min_partial_chars:
            scored = tail
    scores = router.classify(scored, final=final)
    best = scores.best

    if final:
        nxt = RouteState(held=held, left=state.left)  # a new turn starts counting afresh
        origin = state.drifted_from
        if origin is not None and origin != held and best == held and scores.confidence < p.drift_confidence:
            # A partial's drift is provisional: when the settled text shows the new purpose
            # less clearly than a final must (drift_confidence), the call returns to the
            # route it left ("i want to pay with my card, the number is four one one one"
            # drifted to faq on "my card number is").
            margin = scores.confidence_of(origin) - scores.confidence_of(held)
            return (decide("drift", origin, "drift_not_confirmed", scores, margin),
                    replace(nxt, held=origin, left=held))
        if best == UNKNOWN or scores.confidence < p.min_confidence:
            if held is not None:
                return decide("hold", held, "weak_final_keeps_route", scores), nxt
            return decide("unknown", UNKNOWN, "below_min_confidence", scores), nxt
        if held is None or best == held:
            return decide("route", best, "classifier_final", scores), replace(nxt, held=best)
        margin = scores.confidence - scores.confidence_of(held)
        if margin < p.switch_margin:
            return decide("hold", held, "switch_below_margin", scores, margin), nxt
        unclear = _unclear_drift(p, scores.confidence, text, returning=best == state.left,
                                 floor=_entry_floor(router, best))
        if unclear:
            return decide("hold", held, unclear, scores, margin), nxt
        reason = "drift_while_answering" if agent_speaking else "drift_margin"
        return decide("drift", best, reason, scores, margin), replace(nxt, held=best, left=held)

    # A partial.
    nxt = replace(state, partials=state.partials + 1)
    if held is None:
        qualifies = best != UNKNOWN and scores.confidence >= p.min_confidence
        count = _streak(state, best, qualifies)
        nxt = replace(nxt, candidate=best if qualifies else None, candidate_count=count)
        if count >= p.stable_partials:
            return (decide("route", best, "stable_partials", scores),
                    replace(nxt, held=best, candidate=None, candidate_count=0, anchor=len(text)))
        return decide("hold", UNKNOWN, "awaiting_stability", scores), nxt
    if best == held or best == UNKNOWN:
        return (decide("hold", held, "route_unchanged", scores),
                replace(nxt, candidate=None, candidate_count=0))
    margin = scores.confidence - scores.confidence_of(held)
    qualifies = margin >= p.drift_margin and not _unclear_drift(
        p, scores.confidence, text, returning=best == state.left, floor=_entry_floor(router, best))
    count = _streak(state, best, qualifies)
    nxt = replace(nxt, candidate=best if qualifies else None, candidate_count=count)
    if count >= p.stable_partials:
        reason = "drift_while_answering" if agent_speaking else "drift_margin"
        return (decide("drift", best, reason, scores, margin),
                replace(nxt, held=best, candidate=None, candidate_count=0, anchor=len(text),
                        support=state.anchor, drifted_from=state.drifted_from or held, left=held))
    reason = "drift_unstable" if qualifies else "drift_below_margin"
    return decide("hold", held, reason, scores, margin), nxt


def _is_control_phrase(text: str) -> bool:
    """One to four words, each a turn-control word ("no, wait", "uh huh okay")."""
    # Runs on every partial while a route is held: stop at the first word that is
    # not turn control (almost always the first) instead of splitting the whole text.
    words = 0
    for m in _WORD.finditer(text.lower()):
        words += 1
        if words > 4 or m[0] not in _CONTROL:
            return False
    return words > 0


def _entry_floor(router: Router, route: str) -> float:
    spec = router.routes.get(route)
    return spec.drift_confidence if spec is not None and spec.drift_confidence is not None else 0.0


def _unclear_drift(p: RouteGateParams, confidence: float, text: str, *, returning: bool = False,
                   floor: float = 0.0) -> str:
    """Why a class leading the held route is not yet clear evidence of a new purpose ("": it is).

    The call is in a flow: an answer inside it ("in checking", "the 7th at 4 pm") leans
    anywhere, so the new class must reach ``drift_confidence``; a turn that refers back to
    what the flow just offered ("what's his number?", "yes, that one") must reach
    ``followup_drift_confidence``. Going back to the route the call left (``returning``)
    needs only ``return_drift_confidence`` when the policy sets it: the caller resumes a
    flow they were in ("yes, please book one" after a question drifted to faq), and
    referring back is what resuming sounds like. ``floor``: the new route's own
    ``drift_confidence`` (a general-questions route: a question inside a flow is
    usually about the flow)."""
    if returning and p.return_drift_confidence is not None:
        return "" if confidence >= p.return_drift_confidence else "drift_not_clear"
    if confidence < max(p.drift_confidence, floor):
        return "drift_not_clear"
    if confidence < p.followup_drift_confidence and _refers_back(text, p.followup_max_words):
        return "follow_up_keeps_route"
    return ""


def _refers_back(text: str, max_words: int = 0) -> bool:
    """The turn answers or asks about what was just said: it opens with an answer word
    ("yes", "thanks", "okay"), refers back ("that", "it", "his", "the other one"), reads
    out a value (two numbers in a row: "four five six", "the 7th at 4 pm" is not) or is
    at most ``max_words`` words long ("what is the address?", "anyone else?": too short
    to state a new purpose)."""
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if words[0] in _ANSWER_OPENERS or not _BACK_REFERENCES.isdisjoint(words) or len(words) <= max_words:
        return True
    # A value read out (a card number, a code, an amount, a date): two numbers in a row.
    run = 0
    for w in _TOKEN.findall(text.lower()):
        run = run + 1 if (w[0].isdigit() or w in _NUMBER_WORDS) else 0
        if run >= 2:
            return True
    return False


def _streak(state: RouteState, best: str, qualifies: bool) -> int:
    """Consecutive qualifying partials naming the same class."""
    if not qualifies:
        return 0
    return state.candidate_count + 1 if best == state.candidate else 1
