"""Few-shot routing data for bench/route.py: the sampled training sets, validation and test
splits of Banking77, HWU64 and CLINC150, and their MiniLM embeddings (through the gateway's
embedding cache, so each text is encoded once on this machine).

Sampling (``SEEDS``, ``POOL``): per intent, one fixed random pool of ``POOL`` training
utterances is drawn (seed 0); the k-shot set of seed s is the first k of a seed-s
permutation of that pool. Each seed's set is a uniform random k-subset of the training
data; the seeds are not independent of each other (they share the pool), which keeps the
encoding cost to the pool. The 30-shot set is the whole pool (one sample, POOL = 30).

Validation (never test) chooses every hyper-parameter:
  * Banking77: ``VAL_PER_INTENT`` training utterances per intent outside the pool;
  * HWU64: the dataset's ``valid`` split (``VAL_PER_INTENT`` per intent);
  * CLINC150: the dataset's ``val`` split (``VAL_PER_INTENT`` per intent, in-scope).
HWU64's 10-shot set is the standard ``train_10`` split when present.
Test: Banking77 ``test`` (3,080), HWU64 ``test`` (1,076), CLINC150 in-scope ``test``
sampled to ``CLINC_TEST_PER_INTENT`` per intent (1,500 of 4,500: encoding is the cost).

``embed`` encodes in chunks through the embedding cache, so an interrupted run keeps
what it computed.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "intents"
SEEDS = (0, 1, 2, 3, 4)
POOL = 30
VAL_PER_INTENT = 5
CLINC_TEST_PER_INTENT = 10
CHUNK = 256


def embed(encoder, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``texts`` via ``CachedEncoder`` (on disk after the first run)."""
    from turngate.embedding.cache import embeddings_file

    if encoder.cache_dir is not None and (encoder.cache_dir / embeddings_file(encoder.model_id, texts)).exists():
        return encoder.encode(texts)  # cached whole
    parts = [encoder.encode(texts[i:i + CHUNK], 16) for i in range(0, len(texts), CHUNK)]
    return np.vstack(parts) if parts else np.zeros((0, encoder.dim), np.float32)


def token_states(encoder, texts: list[str], layers: int = 0) -> list[np.ndarray]:
    """``encode_tokens`` of ``texts`` (for a router that tunes the encoder; ``layers`` > 0:
    the states entering the last ``layers`` layers), kept in the embedding cache's folder
    as one .npz per chunk of CHUNK texts (offsets + stacked states)."""
    import hashlib

    version = f"tokens-L{layers}-v1" if layers else "tokens-v1"
    out: list[np.ndarray] = []
    for i in range(0, len(texts), CHUNK):
        part = texts[i:i + CHUNK]
        key = hashlib.sha256("\x1f".join([encoder.model_id, version, *part]).encode()).hexdigest()[:24]
        path = encoder.cache_dir / f"tokens-{key}.npz" if encoder.cache_dir is not None else None
        if path is not None and path.exists():
            z = np.load(path)
            cuts = np.cumsum(z["lengths"])[:-1]
            out.extend(np.split(z["states"], cuts))
            continue
        got = encoder.encode_tokens(part, layers=layers) if layers else encoder.encode_tokens(part)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, states=np.concatenate(got), lengths=np.array([len(g) for g in got]))
        out.extend(got)
    return out


@dataclass(frozen=True)
class FewShotSet:
    name: str
    pool: dict[str, list[str]]          # intent -> POOL training utterances (random order)
    val: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]
    fixed10: tuple[list[str], list[str]] | None = None  # a standard 10-shot split, if the data set has one

    def shots(self, k: int, seed: int) -> tuple[list[str], list[str]]:
        if k == 10 and self.fixed10 is not None:
            return self.fixed10
        rng = np.random.default_rng(1000 + seed)
        xs, ys = [], []
        for intent in sorted(self.pool):
            ex = self.pool[intent]
            for i in rng.permutation(len(ex))[:k]:
                xs.append(ex[i])
                ys.append(intent)
        return xs, ys

    def all_texts(self) -> list[str]:
        out = [t for ex in self.pool.values() for t in ex] + self.val[0] + self.test[0]
        if self.fixed10:
            out += self.fixed10[0]
        return out


def _by_intent(texts: list[str], labels: list[str]) -> dict[str, list[str]]:
    d: dict[str, list[str]] = defaultdict(list)
    for t, y in zip(texts, labels):
        d[y].append(t)
    return d


def _pool_and_rest(by: dict[str, list[str]], n: int, seed: int = 0) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    pool, rest = {}, {}
    for intent in sorted(by):
        ex = by[intent]
        order = rng.permutation(len(ex))
        pool[intent] = [ex[i] for i in order[:n]]
        rest[intent] = [ex[i] for i in order[n:]]
    return pool, rest


def _take(by: dict[str, list[str]], n: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for intent in sorted(by):
        ex = by[intent]
        for i in rng.permutation(len(ex))[:n]:
            xs.append(ex[i])
            ys.append(intent)
    return xs, ys


def banking77() -> FewShotSet:
    def read(split: str) -> tuple[list[str], list[str]]:
        with open(DATA / "banking77" / f"{split}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r["text"] for r in rows], [r["category"] for r in rows]

    pool, rest = _pool_and_rest(_by_intent(*read("train")), POOL)
    return FewShotSet("banking77", pool, _take(rest, VAL_PER_INTENT), read("test"))


def hwu64() -> FewShotSet:
    def read(split: str) -> tuple[list[str], list[str]] | None:
        d = DATA / "hwu64" / split
        if not (d / "seq.in").exists():
            return None
        return (d / "seq.in").read_text(encoding="utf-8").splitlines(), (d / "label").read_text().splitlines()

    pool, _ = _pool_and_rest(_by_intent(*read("train")), POOL)
    val = _take(_by_intent(*read("valid")), VAL_PER_INTENT)
    return FewShotSet("hwu64", pool, val, read("test"), fixed10=read("train_10"))


def clinc150() -> FewShotSet:
    d = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def split(k: str) -> tuple[list[str], list[str]]:
        return [r[0] for r in d[k]], [r[1] for r in d[k]]

    pool, _ = _pool_and_rest(_by_intent(*split("train")), POOL)
    val = _take(_by_intent(*split("val")), VAL_PER_INTENT)
    test = _take(_by_intent(*split("test")), CLINC_TEST_PER_INTENT, seed=2)
    return FewShotSet("clinc150", pool, val, test)


def all_sets() -> list[FewShotSet]:
    return [banking77(), hwu64(), clinc150()]


def label_text(intent: str) -> str:
    """An intent name as a sentence-like description ("card_arrival" -> "card arrival")."""
    return intent.replace("_", " ").replace("-", " ").strip()
