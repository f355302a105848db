"""Tuning the sentence encoder's last block, or its last whole layers, on a router's examples.

A policy has a few examples per route; a logistic model over frozen MiniLM
embeddings stops improving at that size (docs/benchmarks.md, few-shot routing).
This moves the encoder itself a little toward the routes, SetFit-like but small
enough for numpy: only the last layer's feed-forward block and its output norm
are trained (its input, the token states after the last attention, stays as
``MiniLMEncoder.encode_tokens`` computed it), with a softmax over cosine
similarities to one learned vector per class (initialised at the class means),
cross-entropy, Adam. The forward pass is ``minilm.finish``'s; the backward pass is
written out below (a test checks it against finite differences).

Deterministic: the only randomness is the batch order, from ``seed``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["finish_layers", "tune_last_ffn", "tune_last_layers"]


_C = 0.7978845608028654  # sqrt(2 / pi), the tanh form of GELU that minilm uses


# Layer norm as its normalised input and inverse deviation (the backward pass needs both),
# and its backward pass to the input given the gradient of the normalised input.
def _ln_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xc = x - x.mean(-1, keepdims=True)
    inv = 1.0 / np.sqrt((xc**2).mean(-1, keepdims=True) + 1e-12)
    return xc * inv, inv


def _ln_back(dxh: np.ndarray, xh: np.ndarray, inv: np.ndarray) -> np.ndarray:
    return inv * (dxh - dxh.mean(-1, keepdims=True) - xh * (dxh * xh).mean(-1, keepdims=True))


def _pack(states: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    T = max(len(a) for a in states)
    A = np.zeros((len(states), T, states[0].shape[1]), np.float32)
    M = np.zeros((len(states), T), np.float32)
    for i, a in enumerate(states):
        A[i, : len(a)] = a
        M[i, : len(a)] = 1.0
    return A, M


def _forward(p: dict[str, np.ndarray], A: np.ndarray, M: np.ndarray):
    u = A @ p["i_w"] + p["i_b"]
    t = np.tanh(_C * (u + 0.044715 * u**3))
    g = 0.5 * u * (1 + t)
    xh, inv = _ln_parts(A + g @ p["f_w"] + p["f_b"])
    h = xh * p["g"] + p["b"]
    n = M.sum(1, keepdims=True)
    P = (h * M[:, :, None]).sum(1) / n
    norm = np.linalg.norm(P, axis=1, keepdims=True)
    E = P / norm
    return E, (A, M, u, t, g, xh, inv, n, norm)


def _backward(p: dict[str, np.ndarray], E: np.ndarray, dE: np.ndarray, cache) -> dict[str, np.ndarray]:
    A, M, u, t, g, xh, inv, n, norm = cache
    D = A.shape[-1]
    dP = (dE - E * (E * dE).sum(1, keepdims=True)) / norm
    dh = dP[:, None, :] * (M[:, :, None] / n[:, :, None])
    grads = {"g": (dh * xh).sum((0, 1)), "b": dh.sum((0, 1))}
    dxh = dh * p["g"]
    dr = _ln_back(dxh, xh, inv).reshape(-1, D)
    grads["f_w"] = g.reshape(-1, g.shape[-1]).T @ dr
    grads["f_b"] = dr.sum(0)
    u2, t2 = u.reshape(-1, u.shape[-1]), t.reshape(-1, t.shape[-1])
    du = (dr @ p["f_w"].T) * (0.5 * (1 + t2) + 0.5 * u2 * (1 - t2**2) * _C * (1 + 3 * 0.044715 * u2**2))
    grads["i_w"] = A.reshape(-1, D).T @ du
    grads["i_b"] = du.sum(0)
    return grads


def tune_last_ffn(states: list[np.ndarray], labels: np.ndarray, n_classes: int, init: dict[str, np.ndarray], *,
                  epochs: int = 3, lr: float = 1e-3, scale: float = 20.0, batch: int = 32,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """The tuned block (same keys as ``init``, which is left untouched). ``labels`` are class
    indices of ``states``; every class needs at least one example."""
    p = {k: v.astype(np.float32).copy() for k, v in init.items()}
    y = np.asarray(labels)
    E0 = np.concatenate([_forward(p, *_pack(states[i : i + 256]))[0] for i in range(0, len(states), 256)])
    W = np.stack([E0[y == c].mean(0) for c in range(n_classes)]).astype(np.float32)
    params = {**p, "W": W}
    m1 = {k: np.zeros_like(v) for k, v in params.items()}
    m2 = {k: np.zeros_like(v) for k, v in params.items()}
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(states))
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            E, cache = _forward(p, *_pack([states[i] for i in idx]))
            Wn = params["W"] / np.linalg.norm(params["W"], axis=1, keepdims=True)
            Z = scale * E @ Wn.T
            Z -= Z.max(1, keepdims=True)
            P = np.exp(Z)
            P /= P.sum(1, keepdims=True)
            P[np.arange(len(idx)), y[idx]] -= 1.0
            dZ = P / len(idx)
            grads = _backward(p, E, scale * dZ @ Wn, cache)
            dWn = scale * dZ.T @ E
            grads["W"] = (dWn - Wn * (Wn * dWn).sum(1, keepdims=True)) / np.linalg.norm(params["W"], axis=1,
                                                                                       keepdims=True)
            step += 1
            for k, gk in grads.items():
                m1[k] = 0.9 * m1[k] + 0.1 * gk
                m2[k] = 0.999 * m2[k] + 0.001 * gk * gk
                params[k] -= lr * (m1[k] / (1 - 0.9**step)) / (np.sqrt(m2[k] / (1 - 0.999**step)) + 1e-8)
            p = {k: params[k] for k in p}
    return {k: v.astype(np.float32) for k, v in p.items()}


# --- Tuning whole last layers (attention included) ------------------------------
#
# The same idea one step further: the last layer (or the last few) trained as a whole,
# attention included. Their input, the token states entering the first tuned layer
# (``MiniLMEncoder.encode_tokens(texts, layers=n)``), is computed once per example, so
# a training step costs those layers, not the model. A layer's weights are a dict with
# the keys of ``LAYER_KEYS`` (``MiniLMEncoder.last_layers``); the forward pass is
# ``MiniLMEncoder._forward``'s, the backward pass is written out below (a test checks it
# against finite differences). The router's option (``encoder_tune_layers``) uses two
# layers with token dropout 0.1, lr 3e-4: the best of a validation grid whose other rows
# (one layer, a contrastive term, label smoothing, ...) did no better than the last block
# alone; the gain over it is small (docs/benchmarks.md, few-shot routing).

def _layer_forward(p: dict[str, np.ndarray], h: np.ndarray, M: np.ndarray, heads: int):
    B, T, D = h.shape
    dh = D // heads
    scale = 1.0 / float(np.sqrt(dh))
    q, k, v = (h @ p["qkv_w"] + p["qkv_b"]).reshape(B, T, 3, heads, dh).transpose(2, 0, 3, 1, 4)
    S = (q @ k.transpose(0, 1, 3, 2)) * scale + ((1.0 - M) * -1e9)[:, None, None, :]
    Pa = np.exp(S - S.max(-1, keepdims=True))
    Pa /= Pa.sum(-1, keepdims=True)
    ctx = (Pa @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    xh1, inv1 = _ln_parts(h + ctx @ p["o_w"] + p["o_b"])
    h1 = xh1 * p["g1"] + p["b1"]
    u = h1 @ p["i_w"] + p["i_b"]
    t = np.tanh(_C * (u + 0.044715 * u**3))
    gl = 0.5 * u * (1 + t)
    xh2, inv2 = _ln_parts(h1 + gl @ p["f_w"] + p["f_b"])
    return xh2 * p["g2"] + p["b2"], (h, q, k, v, Pa, ctx, xh1, inv1, h1, u, t, gl, xh2, inv2)


def _layer_backward(p: dict[str, np.ndarray], dout: np.ndarray, cache, heads: int):
    """Gradients of the layer's weights and of its input, given the output's gradient."""
    h, q, k, v, Pa, ctx, xh1, inv1, h1, u, t, gl, xh2, inv2 = cache
    B, T, D = h.shape
    dh = D // heads
    scale = 1.0 / float(np.sqrt(dh))

    def flat(x):
        return x.reshape(-1, x.shape[-1])

    g = {"g2": (dout * xh2).sum((0, 1)), "b2": dout.sum((0, 1))}
    dr = _ln_back(dout * p["g2"], xh2, inv2)
    g["f_w"], g["f_b"] = flat(gl).T @ flat(dr), dr.sum((0, 1))
    du = (dr @ p["f_w"].T) * (0.5 * (1 + t) + 0.5 * u * (1 - t**2) * _C * (1 + 3 * 0.044715 * u**2))
    g["i_w"], g["i_b"] = flat(h1).T @ flat(du), du.sum((0, 1))
    dh1 = dr + du @ p["i_w"].T
    g["g1"], g["b1"] = (dh1 * xh1).sum((0, 1)), dh1.sum((0, 1))
    da = _ln_back(dh1 * p["g1"], xh1, inv1)
    g["o_w"], g["o_b"] = flat(ctx).T @ flat(da), da.sum((0, 1))
    dctx = (da @ p["o_w"].T).reshape(B, T, heads, dh).transpose(0, 2, 1, 3)
    dPa = dctx @ v.transpose(0, 1, 3, 2)
    dv = Pa.transpose(0, 1, 3, 2) @ dctx
    dS = Pa * (dPa - (dPa * Pa).sum(-1, keepdims=True)) * scale
    dqkv = np.stack([dS @ k, dS.transpose(0, 1, 3, 2) @ q, dv]).transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * D)
    g["qkv_w"], g["qkv_b"] = flat(h).T @ flat(dqkv), dqkv.sum((0, 1))
    return g, da + dqkv @ p["qkv_w"].T


def _layers_forward(layers: list[dict[str, np.ndarray]], A: np.ndarray, M: np.ndarray, heads: int):
    h, caches = A, []
    for p in layers:
        h, c = _layer_forward(p, h, M, heads)
        caches.append(c)
    n = M.sum(1, keepdims=True)
    P = (h * M[:, :, None]).sum(1) / n
    norm = np.linalg.norm(P, axis=1, keepdims=True)
    return P / norm, (caches, M, n, norm)


def _layers_backward(layers: list[dict[str, np.ndarray]], E: np.ndarray, dE: np.ndarray, cache,
                     heads: int) -> list[dict[str, np.ndarray]]:
    caches, M, n, norm = cache
    dP = (dE - E * (E * dE).sum(1, keepdims=True)) / norm
    dh = dP[:, None, :] * (M[:, :, None] / n[:, :, None])
    grads: list[dict[str, np.ndarray]] = []
    for p, c in zip(reversed(layers), reversed(caches)):
        g, dh = _layer_backward(p, dh, c, heads)
        grads.append(g)
    return grads[::-1]


def finish_layers(states: list[np.ndarray], layers: list[dict[str, np.ndarray]], heads: int = 12,
                  batch: int = 64) -> np.ndarray:
    """Sentence embeddings of token states through ``layers`` (the last of the model, as
    ``MiniLMEncoder.last_layers`` gives them or tuned), mean-pooled and L2-normalised."""
    out = np.zeros((len(states), layers[-1]["b2"].shape[0]), dtype=np.float32)
    order = sorted(range(len(states)), key=lambda k: len(states[k]))
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        out[idx] = _layers_forward(layers, *_pack([states[k] for k in idx]), heads)[0]
    return out


def _batches(y: np.ndarray, batch: int, rng: np.random.Generator, per_class: int) -> list[np.ndarray]:
    """One epoch's batches: a seeded permutation; with ``per_class`` > 1, groups of
    ``per_class`` examples of one class (so every example has in-batch positives)."""
    if per_class <= 1:
        order = rng.permutation(len(y))
        return [order[s : s + batch] for s in range(0, len(order), batch)]
    groups = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        groups += [idx[s : s + per_class] for s in range(0, len(idx), per_class)]
    groups = [groups[i] for i in rng.permutation(len(groups))]
    out, cur = [], []
    for gr in groups:
        cur.append(gr)
        if sum(len(x) for x in cur) >= batch:
            out.append(np.concatenate(cur))
            cur = []
    if cur:
        out.append(np.concatenate(cur))
    return out


def _supcon(E: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    """The gradient of a supervised contrastive loss (cosine similarities / ``tau``,
    positives: the other in-batch examples of the same class) with respect to ``E``."""
    S = E @ E.T / tau
    np.fill_diagonal(S, -np.inf)
    Q = np.exp(S - S.max(1, keepdims=True))
    Q /= Q.sum(1, keepdims=True)
    pos = (y[:, None] == y[None, :]).astype(np.float32)
    np.fill_diagonal(pos, 0.0)
    npos = pos.sum(1, keepdims=True)
    anchors = npos[:, 0] > 0
    if not anchors.any():
        return np.zeros_like(E)
    dS = np.where(anchors[:, None], Q - pos / np.maximum(npos, 1), 0.0) / anchors.sum()
    return (dS + dS.T) @ E / tau


def tune_last_layers(states: list[np.ndarray], labels: np.ndarray, n_classes: int,
                     init: list[dict[str, np.ndarray]], *, epochs: int = 3, lr: float = 1e-3,
                     scale: float = 20.0, batch: int = 32, seed: int = 0, heads: int = 12,
                     smoothing: float = 0.0, supcon: float = 0.0, tau: float = 0.1,
                     per_class: int = 1, ce: float = 1.0, token_drop: float = 0.0) -> list[dict[str, np.ndarray]]:
    """The tuned layers (``init`` is left untouched); ``states`` enter the first of them.
    Loss: cross-entropy (``smoothing``: label smoothing) over a softmax of ``scale`` times
    the cosine similarities to one vector per class (initialised at the class means), plus
    ``supcon`` times a supervised contrastive loss over the batch. Adam, seeded batches."""
    layers = [{k: v.astype(np.float32).copy() for k, v in p.items()} for p in init]
    y = np.asarray(labels)
    E0 = finish_layers(states, layers, heads)
    W = np.stack([E0[y == c].mean(0) for c in range(n_classes)]).astype(np.float32)
    params = [*layers, {"W": W}]
    m1 = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
    m2 = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(epochs):
        for idx in _batches(y, batch, rng, per_class):
            A, M = _pack([states[i] for i in idx])
            if token_drop > 0:  # drop words (never [CLS] or the last token) for the step
                keep = rng.random(M.shape) >= token_drop
                keep[:, 0] = True
                keep[np.arange(len(idx)), M.sum(1).astype(int) - 1] = True
                M = M * keep
            E, cache = _layers_forward(layers, A, M, heads)
            Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
            Z = scale * E @ Wn.T
            P = np.exp(Z - Z.max(1, keepdims=True))
            P /= P.sum(1, keepdims=True)
            target = np.full_like(P, smoothing / n_classes)
            target[np.arange(len(idx)), y[idx]] += 1.0 - smoothing
            dZ = ce * (P - target) / len(idx)
            dE = scale * dZ @ Wn
            if supcon > 0:
                dE = dE + supcon * _supcon(E, y[idx], tau)
            grads = _layers_backward(layers, E, dE, cache, heads)
            dWn = scale * dZ.T @ E
            grads.append({"W": (dWn - Wn * (Wn * dWn).sum(1, keepdims=True)) / np.linalg.norm(W, axis=1,
                                                                                             keepdims=True)})
            step += 1
            for p, g, a, b in zip(params, grads, m1, m2):
                for k, gk in g.items():
                    a[k] = 0.9 * a[k] + 0.1 * gk
                    b[k] = 0.999 * b[k] + 0.001 * gk * gk
                    p[k] -= (lr * (a[k] / (1 - 0.9**step)) / (np.sqrt(b[k] / (1 - 0.999**step)) + 1e-8)).astype(p[k].dtype)
            W = params[-1]["W"]
    return [{k: v.astype(np.float32) for k, v in p.items()} for p in layers]
