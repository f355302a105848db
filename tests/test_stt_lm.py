"""The domain language model builder: normalisation, a proper distribution, pronunciations."""

from __future__ import annotations

import math
import shutil

import pytest

from turngate.speech.lm import build_arpa, flite_pronunciations, normalize, phrases_in


def _parse_arpa(text: str) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    probs: dict[tuple[str, ...], float] = {}
    bows: dict[tuple[str, ...], float] = {}
    order = 0
    for line in text.splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1])
            continue
        parts = line.split("\t")
        if order and len(parts) >= 2:
            key = tuple(parts[1].split())
            probs[key] = 10 ** float(parts[0])
            if len(parts) == 3:
                bows[key] = 10 ** float(parts[2])
    return probs, bows


def _prob(probs, bows, ctx: tuple[str, ...], w: str) -> float:
    # Standard ARPA back-off lookup.
    if ctx + (w,) in probs:
        return probs[ctx + (w,)]
    if not ctx:
        return 0.0
    return bows.get(ctx, 1.0) * _prob(probs, bows, ctx[1:], w)


SENTENCES = [normalize(s) for s in (
    "I want to change my appointment", "I want to pay my bill", "I need to change my booking",
    "cancel my appointment", "yes", "no thanks", "pay 25 dollars",
)]


@pytest.mark.parametrize("general", [None, {"the": 5.0, "cat": 1.0, "change": 2.0}])
@pytest.mark.parametrize("ctx", [(), ("<s>",), ("want",), ("i", "want"), ("to", "change"), ("my", "bill"),
                                 ("cat",), ("yes", "the")])
def test_arpa_model_is_a_distribution_in_every_context(general, ctx) -> None:
    probs, bows = _parse_arpa(build_arpa(SENTENCES, general_unigrams=general, general_weight=0.3))
    vocab = {k[0] for k in probs if len(k) == 1 and k[0] != "<s>"}
    if any(w not in vocab and w != "<s>" for w in ctx):
        pytest.skip("context word not in this vocabulary")
    total = sum(_prob(probs, bows, ctx, w) for w in vocab)
    assert math.isclose(total, 1.0, rel_tol=1e-4)


def test_seen_continuations_outscore_unseen_ones() -> None:
    probs, bows = _parse_arpa(build_arpa(SENTENCES))
    assert _prob(probs, bows, ("change", "my"), "appointment") > _prob(probs, bows, ("change", "my"), "bill")
    assert _prob(probs, bows, ("i", "want"), "to") > 0.5


def test_general_words_get_their_share_of_the_unigram_mass() -> None:
    probs, _ = _parse_arpa(build_arpa(SENTENCES, general_unigrams={"cat": 1.0}, general_weight=0.25))
    assert math.isclose(probs[("cat",)], 0.25, rel_tol=1e-4)


def test_normalize_spells_digits_and_drops_punctuation() -> None:
    assert normalize("I'd like to pay $25, at 3:30!") == [
        "i'd", "like", "to", "pay", "dollars", "twenty", "five", "at", "three", "thirty"]
    assert normalize("Account 1234") == ["account", "one", "two", "three", "four"]


def test_phrases_in_collects_examples_anywhere_in_a_policy_tree() -> None:
    tree = {"version": "1", "routes": [
        {"id": "payment", "examples": ["pay my bill", "make a payment"], "path": "x"},
        {"id": "faq", "examples": {"hours": ["when do you open"]}},
    ], "agent": {"prompts": ["How can I help?"]}}
    assert phrases_in(tree) == ["pay my bill", "make a payment", "when do you open", "How can I help?"]


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_out_of_dictionary_words_get_pronunciations_in_the_model_phone_set() -> None:
    prons = flite_pronunciations(["turngate", "zorblax"])
    phone_set = set("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
                    "UH UW V W Y Z ZH".split())
    assert set(prons) == {"turngate", "zorblax"}
    for phones in prons.values():
        assert phones and set(phones.split()) <= phone_set
