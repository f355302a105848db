"""The Route gate: embedded classifier, hysteresis on partials, intent drift."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from turngate.gates.route import RouteScores, RouteState, Router, route_gate
from turngate.gates.route.classifier import IntentClassifier
from turngate.policy import load_policy




# --- a scripted router: exact control over the scores each text gets ---------------------


class ScriptedRouter:
    """Duck-types Router: scores come from a table keyed by text."""

    def __init__(self, policy, table):
        self.routes = policy.routes
        self.params = policy.route_gate
        self.table = table

    def classify(self, text, *, final=False):
        probs = dict(self.table[text])
        ranked = sorted(probs, key=probs.get, reverse=True)
        best, second = ranked[0], ranked[1]
        label = best if probs[best] >= self.params.min_confidence else "unknown"
        return RouteScores(best=label, confidence=probs[best], runner_up=second,
                           runner_up_confidence=probs[second],
                           probs=MappingProxyType(probs), raw_best=best)


def _run(router, texts, *, final_last=True, agent_speaking=False, state=None):
    state = state or RouteState()
    out = []
    for i, t in enumerate(texts):
        final = final_last and i == len(texts) - 1
        d, state = route_gate(router, state, t, final=final, agent_speaking=agent_speaking)
        out.append(d)
    return out, state


def test_partials_do_not_flap_on_a_single_noisy_partial(policy):
    table = {
        "i want to pay my bill": {"payment": 0.9, "refund": 0.1},
        "i want to pay my bill and the": {"payment": 0.9, "refund": 0.1},
        "i want to pay my bill and the ref": {"refund": 0.7, "payment": 0.3},  # one odd partial
        "i want to pay my bill and the rest": {"payment": 0.85, "refund": 0.15},
    }
    r = ScriptedRouter(policy, table)
    ds, state = _run(r, list(table), final_last=False)
    assert [d.outcome for d in ds] == ["hold", "route", "hold", "hold"]
    assert [d.route for d in ds] == ["unknown", "payment", "payment", "payment"]
    assert ds[2].reason == "drift_unstable"
    assert state.held == "payment"


def test_drift_needs_margin_and_stability_and_is_its_own_outcome(policy):
    # After the route is held, the gate scores the words said since (the tail).
    table = {
        "pay my bill": {"payment": 0.9, "cancellation": 0.1},
        "pay my bill please": {"payment": 0.9, "cancellation": 0.1},
        " but cancel": {"cancellation": 0.55, "payment": 0.45},        # margin too small
        " but cancel my": {"cancellation": 0.8, "payment": 0.2},       # margin, once
        " but cancel my plan": {"cancellation": 0.85, "payment": 0.15},  # margin again: stable
    }
    r = ScriptedRouter(policy, table)
    seq = ["pay my bill", "pay my bill please", "pay my bill please but cancel",
           "pay my bill please but cancel my", "pay my bill please but cancel my plan"]
    ds, state = _run(r, seq, final_last=False)
    assert [d.outcome for d in ds] == ["hold", "route", "hold", "hold", "drift"]
    assert ds[2].reason == "drift_below_margin"
    assert ds[3].reason == "drift_unstable"
    drift = ds[4]
    assert drift.reason == "drift_margin" and drift.rule == "route.cancellation"
    assert drift.previous == "payment" and drift.margin == pytest.approx(0.7)
    assert not drift.preempts_response
    assert state.held == "cancellation" and state.anchor == len(seq[-1])


def test_final_after_a_drift_is_scored_on_the_words_that_drifted(policy):
    table = {
        "pay my bill": {"payment": 0.9, "cancellation": 0.1},
        "pay my bill please": {"payment": 0.9, "cancellation": 0.1},
        " no cancel my plan": {"cancellation": 0.85, "payment": 0.15},
        " no cancel my plan now": {"cancellation": 0.9, "payment": 0.1},
        # the whole turn leans to payment; only the words since it moved matter
        "pay my bill please no cancel my plan now": {"payment": 0.7, "cancellation": 0.3},
    }
    r = ScriptedRouter(policy, table)
    seq = ["pay my bill", "pay my bill please", "pay my bill please no cancel my plan",
           "pay my bill please no cancel my plan now"]
    ds, state = _run(r, seq, final_last=False)
    assert [d.outcome for d in ds] == ["hold", "route", "hold", "drift"]
    assert state.support == len("pay my bill please")
    d, state = route_gate(r, state, "pay my bill please no cancel my plan now", final=True,
                          agent_speaking=False)
    assert (d.outcome, d.route) == ("route", "cancellation")
    assert state == RouteState(held="cancellation", left="payment")  # the call left payment in this turn


def test_turn_control_words_keep_the_held_route_whatever_the_classifier_says(policy):
    # The table has no entry for "no, wait": the classifier is never asked.
    r = ScriptedRouter(policy, {"cancel my plan": {"cancellation": 0.9, "payment": 0.1}})
    _, state = _run(r, ["cancel my plan"])
    assert state == RouteState(held="cancellation")
    d, st = route_gate(r, replace(state, partials=3), "no, wait", final=False, agent_speaking=True)
    assert (d.outcome, d.route, d.reason, d.confidence) == ("hold", "cancellation", "control_phrase", 1.0)
    assert st == replace(state, partials=3)
    d, st = route_gate(r, replace(state, partials=3), "uh huh okay", final=True, agent_speaking=False)
    assert (d.outcome, d.reason) == ("hold", "control_phrase") and st == RouteState(held="cancellation")
    # With nothing held the same words go to the classifier like any other text.
    with pytest.raises(KeyError):
        route_gate(r, RouteState(), "no, wait", final=True, agent_speaking=False)
    # Five such words are more than turn control: the classifier is asked.
    with pytest.raises(KeyError):
        route_gate(r, state, "no, no, wait, hold on", final=True, agent_speaking=False)


def test_drift_while_agent_answers_preempts_the_response(policy):
    table = {
        "i want to pay my bill": {"payment": 0.95, "cancellation": 0.05},
        "no wait cancel my subscription": {"cancellation": 0.9, "payment": 0.1},
        "no wait cancel my subscription instead": {"cancellation": 0.92, "payment": 0.08},
    }
    r = ScriptedRouter(policy, table)
    d, state = route_gate(r, RouteState(), "i want to pay my bill", final=True, agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("route", "payment", "classifier_final")
    ds, state = _run(r, ["no wait cancel my subscription", "no wait cancel my subscription instead"],
                     final_last=False, agent_speaking=True, state=state)
    assert ds[-1].outcome == "drift"
    assert ds[-1].reason == "drift_while_answering"
    assert ds[-1].preempts_response


def test_weak_final_keeps_the_held_route_but_with_nothing_held_is_unknown(policy):
    table = {"yes that's right": {"faq": 0.3, "payment": 0.25, "unknown": 0.2}}
    r = ScriptedRouter(policy, table)
    d, _ = route_gate(r, RouteState(held="payment"), "yes that's right", final=True, agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("hold", "payment", "weak_final_keeps_route")
    d, st = route_gate(r, RouteState(), "yes that's right", final=True, agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("unknown", "unknown", "below_min_confidence")
    assert d.next_action == "clarify"


def test_short_partial_holds_without_classifying(policy):
    r = ScriptedRouter(policy, {})
    d, st = route_gate(r, RouteState(held="refund"), "i want", final=False, agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("hold", "refund", "partial_too_short")
    assert st == RouteState(held="refund")


def test_final_resets_stability_but_keeps_the_route(policy):
    table = {"i need a refund for my jacket": {"refund": 0.9, "faq": 0.1}}
    r = ScriptedRouter(policy, table)
    st = RouteState(held="refund", candidate="faq", candidate_count=1, partials=4, anchor=12)
    _, st = route_gate(r, st, "i need a refund for my jacket", final=True, agent_speaking=False)
    assert st == RouteState(held="refund")


def test_segment_picks_next_best_action(policy):
    table = {"i want to cancel my membership": {"cancellation": 0.9, "faq": 0.1}}
    r = ScriptedRouter(policy, table)
    d, _ = route_gate(r, RouteState(), "i want to cancel my membership", final=True,
                      agent_speaking=False, segment="vip")
    assert d.next_action == "retention_specialist" and d.segment == "vip"
    d, _ = route_gate(r, RouteState(), "i want to cancel my membership", final=True, agent_speaking=False)
    assert d.next_action == "offer_retention"


# --- the real embedded router --------------------------------------------------------------


@pytest.mark.parametrize(
    "text,route",
    [
        ("i'd like to pay my bill please", "payment"),
        ("can i get my money back for the jacket", "refund"),
        ("i need to move my dentist appointment to friday", "appointment"),
        ("uh i wanna cancel my membership", "cancellation"),
        ("you people are useless i've been waiting three weeks", "complaint"),
        ("what are your hours on sunday", "faq"),
        ("let me speak to a real person", "human"),
        ("tell me who won the football", "unknown"),
        # speech-recogniser errors: split and misspelled words
        ("i wanna re fund my order", "refund"),
        ("can i speek to an agnet", "human"),
        ("i need to reskedule my apointment", "appointment"),
    ],
)
def test_embedded_router_routes_phone_phrasings(router, text, route):
    assert router.classify(text, final=True).best == route


def test_real_partials_drift_from_payment_to_cancellation(router):
    seq = [
        "i want to",
        "i want to pay my",
        "i want to pay my bill",
        "i want to pay my bill actually no",
        "i want to pay my bill actually no cancel my subscription",
        "i want to pay my bill actually no cancel my subscription entirely",
    ]
    ds, state = _run(router, seq, final_last=False)
    outcomes = [d.outcome for d in ds]
    assert "route" in outcomes and outcomes.count("drift") == 1
    assert ds[outcomes.index("route")].route == "payment"
    assert ds[outcomes.index("drift")].route == "cancellation"
    assert state.held == "cancellation"


def test_evidence_holds_no_text(router):
    text = "my card number is four one one one and i want to pay"
    d, _ = route_gate(router, RouteState(), text, final=True, agent_speaking=False)
    ev = d.evidence()
    flat = repr(ev)
    for word in ("card", "four", "pay "):
        assert word not in flat
    assert ev["text_chars"] == len(text)


def test_router_is_immutable_and_shared_state_free(router):
    a = router.classify("i want a refund", final=True)
    router.classify("what's the weather", final=True)
    assert router.classify("i want a refund", final=True) == a


def test_fast_path_matches_scikit_learn_features():
    """The hand-rolled sparse dot product equals scikit-learn's own pipeline."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    policy = load_policy()
    texts = [e for r in policy.routes.values() for e in r.examples]
    labels = [n for n, r in policy.routes.items() for _ in r.examples]
    clf = IntentClassifier.fit(texts, labels)
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, lowercase=False)
    X = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    svm = LinearSVC(C=0.5).fit(X, labels)
    probes = ["i want to pay my bill", "re fund the shoes please", "zzz qqq", "what time do you open"]
    P = hstack([word.transform(probes), char.transform(probes)]).tocsr()
    ref = svm.decision_function(P)
    for i, t in enumerate(probes):
        lp = clf.log_proba(t)
        # Same ranking and same logits up to the calibrated temperature.
        ours = lp - lp.max()
        theirs = ref[i] - ref[i].max()
        temp = ours[np.argmin(theirs)] / theirs[np.argmin(theirs)]
        np.testing.assert_allclose(ours, theirs * temp, rtol=1e-3, atol=1e-3)


def test_classifier_trains_on_any_labelled_set_with_unknown_floor():
    texts = ["pay bill", "pay my bill now", "refund please", "give me a refund", "weather today", "tell a joke"]
    labels = ["pay", "pay", "refund", "refund", "unknown", "unknown"]
    clf = IntentClassifier.fit(texts, labels)
    assert clf.predict("i want to pay the bill").label == "pay"
    strict = clf.with_unknown_below(0.999)
    p = strict.predict("i want to pay the bill")
    assert p.label == "unknown" and p.raw_label == "pay"
    assert replace(p, label="pay") == clf.predict("i want to pay the bill")


def test_real_sgd_payment_requests_route_to_payment(router):
    """Held-out real user turns (SGD, CC BY-SA 4.0): none of them is a policy example."""
    import json
    from pathlib import Path

    path = (Path(__file__).resolve().parents[2] / "shared" / "data" / "dialogues" / "sgd"
            / "test_banks_payment_services_calendar.json")
    if not path.exists():
        pytest.skip("shared data not present")
    dialogues = json.loads(path.read_text(encoding="utf-8"))
    firsts = []
    for d in dialogues:
        turn = next(t for t in d["turns"] if t["speaker"] == "USER")
        if any(f["state"]["active_intent"] in ("MakePayment", "RequestPayment") for f in turn["frames"]):
            firsts.append(turn["utterance"])
    assert len(firsts) > 50
    hits = sum(router.classify(u, final=True).best == "payment" for u in firsts)
    assert hits / len(firsts) >= 0.9


class QueueRouter:
    """Duck-types Router: each classify() call takes the next scripted distribution."""

    def __init__(self, policy, dists):
        self.routes = policy.routes
        self.params = policy.route_gate
        self.dists = list(dists)

    def classify(self, text, *, final=False):
        probs = self.dists.pop(0)
        ranked = sorted(probs, key=probs.get, reverse=True)
        best = ranked[0]
        label = best if probs[best] >= self.params.min_confidence else "unknown"
        return RouteScores(best=label, confidence=probs[best], runner_up=ranked[1],
                           runner_up_confidence=probs[ranked[1]],
                           probs=MappingProxyType(probs), raw_best=best)


def test_partials_never_flap_whatever_the_scores(policy):
    """Property: the held route changes only through a 'route' or 'drift' decision, and
    two changes are always at least stable_partials partials apart."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = ["payment", "refund", "cancellation", "unknown"]
    dist = st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4).map(
        lambda xs: {n: x / sum(xs) for n, x in zip(names, xs)})

    @settings(max_examples=200, deadline=None)
    @given(st.lists(dist, min_size=1, max_size=30))
    def check(dists):
        r = QueueRouter(policy, dists)
        state = RouteState()
        text = "x" * policy.route_gate.min_partial_chars
        last_change = None
        for i in range(len(dists)):
            text += " word"
            before = state.held
            d, state = route_gate(r, state, text, final=False, agent_speaking=False)
            if state.held != before:
                assert d.outcome in ("route", "drift") and d.route == state.held
                if last_change is not None:
                    assert i - last_change >= policy.route_gate.stable_partials
                last_change = i
            else:
                assert d.outcome == "hold"

    check()


# --- a route is a state of the call: answers stay in the flow, drift needs clear evidence --


def test_an_answer_inside_the_flow_does_not_move_the_route(policy):
    assert policy.route_gate.drift_confidence > 0 and policy.route_gate.followup_drift_confidence == 1.0
    table = {
        "in checking": {"faq": 0.6, "payment": 0.4},                          # leans elsewhere, not clearly
        "yes that one please": {"faq": 0.9, "payment": 0.1},                  # refers back: stays
        "what's his phone number": {"faq": 0.95, "payment": 0.05},
        "no i want to cancel my subscription": {"cancellation": 0.9, "payment": 0.1},  # a new purpose
    }
    r = ScriptedRouter(policy, table)
    state = RouteState(held="payment")
    reasons = []
    for text in table:
        d, state = route_gate(r, state, text, final=True, agent_speaking=False)
        reasons.append((d.outcome, d.route, d.reason))
    assert reasons == [("hold", "payment", "drift_not_clear"), ("hold", "payment", "follow_up_keeps_route"),
                       ("hold", "payment", "follow_up_keeps_route"),
                       ("drift", "cancellation", "drift_margin")]


@pytest.mark.parametrize("text", [
    "the security code is four five six",
    "four one one one one one one one one one one one one one one one",
    "yes that's right",
    "the one from tuesday",
    "from my checking account",
    "two hundred dollars",
])
def test_slot_filling_turns_stay_in_the_payment_flow(router, text):
    state = RouteState(held="payment")
    words = text.split()
    for k in range(2, len(words), 2):  # partials first, as a live call sees them
        _, state = route_gate(router, state, " ".join(words[:k]), final=False, agent_speaking=False)
    d, state = route_gate(router, state, text, final=True, agent_speaking=False)
    assert d.route == "payment" and state.held == "payment", (d.outcome, d.reason, d.runner_up)


# --- few-shot options of the classifier (chosen on validation data; see docs/benchmarks.md) --


class ToyEncoder:
    """A deterministic stand-in for MiniLM: bag of hashed words, unit length."""

    dim = 32

    def _vec(self, text):
        v = np.zeros(self.dim, np.float32)
        for w in text.lower().split():
            v[sum(map(ord, w)) % self.dim] += 1.0
        v[0] += 0.5  # a direction every text shares, as sentence embeddings have
        return v / np.linalg.norm(v)

    def encode(self, texts, batch_size=64):
        return np.stack([self._vec(t) for t in texts])

    def encode_one(self, text):
        return self._vec(text)

    encode_static = encode
    encode_static_one = encode_one


TOY = (["pay my bill", "make a payment", "pay the balance", "book a visit", "move my appointment",
        "see the dentist"], ["payment"] * 3 + ["appointment"] * 3)


def test_few_shot_options_default_to_the_classifier_as_it_was():
    a = IntentClassifier.fit(*TOY, encoder=ToyEncoder())
    b = IntentClassifier.fit(*TOY, encoder=ToyEncoder(), encoder_center=False, final_static_weight=0.0)
    for text in ("i want to pay", "can i book the dentist"):
        for final in (False, True):
            assert np.allclose(a.log_proba(text, use_encoder=final), b.log_proba(text, use_encoder=final), atol=1e-5)


def test_few_shot_options_change_finals_not_partials():
    plain = IntentClassifier.fit(*TOY, encoder=ToyEncoder())
    few = IntentClassifier.fit(*TOY, encoder=ToyEncoder(), encoder_C=100.0, encoder_weight=0.8, static_weight=0.5,
                               static_C=10.0, final_static_weight=0.1, encoder_center=True)
    assert few.predict("pay my balance", use_encoder=True).label == "payment"
    assert few.predict("move my dentist visit", use_encoder=True).label == "appointment"
    # Partials: the static view at weight 0.5 and C=10, as before.
    assert np.allclose(plain.log_proba("pay my bal"), few.log_proba("pay my bal"), atol=1e-5)
    assert not np.allclose(plain.log_proba("pay my balance", use_encoder=True),
                           few.log_proba("pay my balance", use_encoder=True), atol=1e-3)


def test_route_descriptions_can_be_examples(policy):
    from dataclasses import replace as dc_replace

    described = dc_replace(policy, route_gate=dc_replace(policy.route_gate, describe_routes=True, encoder="off"))
    plain = dc_replace(policy, route_gate=dc_replace(policy.route_gate, encoder="off"))
    n = sum(len(s.examples) for s in policy.routes.values())
    assert Router.from_policy(described).classifier.describe()["features"] >= \
        Router.from_policy(plain).classifier.describe()["features"]
    text = policy.routes["faq"].description
    assert Router.from_policy(described).classify(text, final=True).best == "faq"
    assert n > 0


def test_a_partial_drift_the_final_does_not_confirm_returns_to_the_flow(policy):
    table = {
        "i want to pay": {"payment": 0.95, "faq": 0.05},
        "i want to pay with": {"payment": 0.95, "faq": 0.05},
        # sure enough for faq's own drift floor (0.9 in the bundled policy)
        " my card number": {"faq": 0.95, "payment": 0.05},
        " my card number is": {"faq": 0.93, "payment": 0.07},
        " my card number is four one one one one": {"faq": 0.59, "payment": 0.41},
    }
    r = ScriptedRouter(policy, table)
    seq = ["i want to pay", "i want to pay with", "i want to pay with my card number",
           "i want to pay with my card number is"]
    ds, state = _run(r, seq, final_last=False)
    assert ds[-1].outcome == "drift" and ds[-1].route == "faq"
    assert state.held == "faq" and state.drifted_from == "payment"
    d, state = route_gate(r, state, "i want to pay with my card number is four one one one one", final=True,
                          agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("drift", "payment", "drift_not_confirmed")
    assert state.held == "payment" and state.drifted_from is None


def test_a_short_question_inside_the_flow_stays_in_it(policy):
    """route_gate.followup_max_words (off in the bundled policy): a final that short refers back."""
    policy = replace(policy, route_gate=replace(policy.route_gate, followup_max_words=3))
    table = {"what's the address": {"faq": 0.95, "appointment": 0.05},
             "anyone else": {"faq": 0.9, "appointment": 0.1}}
    r = ScriptedRouter(policy, table)
    state = RouteState(held="appointment")
    for text in table:
        d, state = route_gate(r, state, text, final=True, agent_speaking=False)
        assert (d.outcome, d.route, d.reason) == ("hold", "appointment", "follow_up_keeps_route")


def test_the_caller_resumes_the_flow_the_call_left_on_less_evidence(policy):
    """A wrong drift must not hold the call for good: back to the route it left needs only
    return_drift_confidence, and an answer that refers back may take it there."""
    assert policy.route_gate.return_drift_confidence is not None
    table = {
        "i need to reschedule my appointment": {"appointment": 0.95, "faq": 0.05},
        "what are your opening hours on saturday": {"faq": 0.9, "appointment": 0.1},
        "yes please book one": {"appointment": 0.6, "faq": 0.4},
    }
    r = ScriptedRouter(policy, table)
    state = RouteState()
    got = []
    for text in table:
        d, state = route_gate(r, state, text, final=True, agent_speaking=False)
        got.append((d.outcome, d.route))
    assert got == [("route", "appointment"), ("drift", "faq"), ("drift", "appointment")]
    assert state.held == "appointment" and state.left == "faq"
    # The same answer with no route to go back to stays where the call is.
    d, _ = route_gate(ScriptedRouter(policy, {"yes please book one": {"appointment": 0.6, "faq": 0.4}}),
                      RouteState(held="faq"), "yes please book one", final=True, agent_speaking=False)
    assert (d.outcome, d.route) == ("hold", "faq")


def test_a_question_inside_a_flow_reaches_faq_only_on_faq_s_own_floor(policy):
    """The bundled policy gives faq its own drift_confidence: "what is the address?" inside
    an appointment flow is about the appointment; a clear faq question still moves the call."""
    assert policy.routes["faq"].drift_confidence == 0.9
    table = {"what is the address": {"faq": 0.85, "appointment": 0.15},
             "what are your opening hours on saturday": {"faq": 0.95, "appointment": 0.05}}
    r = ScriptedRouter(policy, table)
    d, state = route_gate(r, RouteState(held="appointment"), "what is the address", final=True, agent_speaking=False)
    assert (d.outcome, d.route, d.reason) == ("hold", "appointment", "drift_not_clear")
    d, state = route_gate(r, state, "what are your opening hours on saturday", final=True, agent_speaking=False)
    assert (d.outcome, d.route) == ("drift", "faq")
