"""Validation grid for tuning more of the encoder than its last feed-forward block
(docs/benchmarks.md, "Few-shot routing (issue 10)": whole last layers, attention included;
a supervised contrastive loss; token dropout; label smoothing; tuned and frozen embeddings
side by side). Validation splits only (fewshot_data: Banking77 5/intent outside the
pool, HWU64 ``valid``, CLINC150 ``val``; seeds 0-1); the router's few-shot head as in
route_fewshot (``FEWSHOT``, intent names as examples) reads the tuned embeddings.

    .venv/bin/python bench/route_tune_layers.py                 # every setting in SETTINGS
    .venv/bin/python bench/route_tune_layers.py frozen ffn      # some of them
    .venv/bin/python bench/route_tune_layers.py --test layer2_drop [--only banking77]
                              # the test splits, seeds 0-4 (run once, for the chosen setting)

One JSON line per setting. Token states entering MiniLM's last two layers are computed
once per text and kept in the embedding cache (``fewshot_data.token_states``); the states
entering the last layer and the last feed-forward block are derived from them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fewshot_data import SEEDS, all_sets, label_text, token_states  # noqa: E402
from route_fewshot import FEWSHOT  # noqa: E402
from turngate.config import Config  # noqa: E402
from turngate.embedding import minilm, tuning  # noqa: E402
from turngate.embedding.cache import CachedEncoder  # noqa: E402
from turngate.gates.route.classifier import IntentClassifier  # noqa: E402

# name -> (what is tuned: "frozen" | "ffn" | 1 | 2 whole layers, tuning options, frozen
# embeddings concatenated to the tuned ones)
SETTINGS: dict[str, tuple[object, dict, bool]] = {
    "frozen": ("frozen", {}, False),
    "ffn": ("ffn", {"epochs": 3, "lr": 1e-3}, False),  # what bench/route.py reports (TUNE)
    "layer1_lr1e-4": (1, {"epochs": 3, "lr": 1e-4}, False),
    "layer1_lr3e-4": (1, {"epochs": 3, "lr": 3e-4}, False),
    "layer1_lr1e-3": (1, {"epochs": 3, "lr": 1e-3}, False),
    "layer2_lr1e-4": (2, {"epochs": 3, "lr": 1e-4}, False),
    "layer2_lr3e-4": (2, {"epochs": 3, "lr": 3e-4}, False),
    "layer1_supcon": (1, {"epochs": 3, "lr": 3e-4, "supcon": 1.0, "tau": 0.1, "per_class": 4}, False),
    "layer1_drop": (1, {"epochs": 3, "lr": 3e-4, "token_drop": 0.1}, False),
    "layer1_concat": (1, {"epochs": 3, "lr": 3e-4}, True),
    "layer1_smooth": (1, {"epochs": 3, "lr": 3e-4, "smoothing": 0.1}, False),
    "layer2_drop": (2, {"epochs": 3, "lr": 3e-4, "token_drop": 0.1}, False),  # chosen
    "layer2_concat": (2, {"epochs": 3, "lr": 3e-4}, True),
    "layer2_drop_seed1": (2, {"epochs": 3, "lr": 3e-4, "token_drop": 0.1, "seed": 1}, False),
    "layer2_drop0.2": (2, {"epochs": 3, "lr": 3e-4, "token_drop": 0.2}, False),
}


def _derived(enc: minilm.MiniLMEncoder, S2: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """From the states entering the last two layers: those entering the last layer, and
    those entering the last feed-forward block (after the last attention)."""
    first, last = enc.last_layers(2)
    S1: list[np.ndarray] = [np.empty(0)] * len(S2)
    Sf: list[np.ndarray] = [np.empty(0)] * len(S2)
    order = sorted(range(len(S2)), key=lambda k: len(S2[k]))
    for b in range(0, len(order), 64):
        idx = order[b:b + 64]
        A, M = tuning._pack([S2[k] for k in idx])
        h, _ = tuning._layer_forward(first, A, M, enc.heads)
        _, cache = tuning._layer_forward(last, h, M, enc.heads)
        for r, k in enumerate(idx):
            n = len(S2[k])
            S1[k], Sf[k] = np.ascontiguousarray(h[r, :n]), np.ascontiguousarray(cache[8][r, :n])
    return S1, Sf


def _embedder(enc, what, opts, concat, S1, S2, Sf, E0):
    def run(tr: list[int], y: np.ndarray, n_classes: int, ev: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if what == "frozen":
            return E0[tr], E0[ev]
        if what == "ffn":
            p = tuning.tune_last_ffn([Sf[i] for i in tr], y, n_classes, enc.last_ffn(), **opts)
            return minilm.finish([Sf[i] for i in tr], p), minilm.finish([Sf[i] for i in ev], p)
        S = S1 if what == 1 else S2
        layers = tuning.tune_last_layers([S[i] for i in tr], y, n_classes, enc.last_layers(what), **opts)
        Etr, Eev = tuning.finish_layers([S[i] for i in tr], layers), tuning.finish_layers([S[i] for i in ev], layers)
        if concat:
            Etr, Eev = np.hstack([Etr, E0[tr]]) / np.sqrt(2), np.hstack([Eev, E0[ev]]) / np.sqrt(2)
        return Etr, Eev
    return run


def main(args: list[str]) -> int:
    test = "--test" in args
    only = args[args.index("--only") + 1] if "--only" in args else None
    names = [a for a in args if not a.startswith("--") and a != only] or list(SETTINGS)
    enc = minilm.MiniLMEncoder()
    cached = CachedEncoder(enc, cache_dir=Config.from_env().cache_dir)
    sets = []
    for s in all_sets():
        if only and s.name != only:
            continue
        intents = sorted(s.pool)
        texts = list(dict.fromkeys([t for ex in s.pool.values() for t in ex] + [label_text(c) for c in intents]
                                   + (s.test[0] if test else s.val[0]) + (s.fixed10[0] if s.fixed10 else [])))
        S2 = token_states(cached, texts, layers=2)
        S1, Sf = _derived(enc, S2)
        sets.append((s, intents, {t: i for i, t in enumerate(texts)}, S1, S2, Sf,
                     tuning.finish_layers(S1, enc.last_layers(1))))
    for name in names:
        what, opts, concat = SETTINGS[name]
        line: dict[str, object] = {"bench": "route_tune_layers", "split": "test" if test else "val",
                                   "setting": name}
        t0 = time.perf_counter()
        for s, intents, at, S1, S2, Sf, E0 in sets:
            embed = _embedder(enc, what, opts, concat, S1, S2, Sf, E0)
            xv, yv = s.test if test else s.val
            ev = [at[t] for t in xv]
            accs = []
            for seed in ([0] if s.fixed10 else SEEDS if test else [0, 1]):
                xs, ys = s.shots(10, seed)
                xs, ys = list(xs) + [label_text(c) for c in intents], list(ys) + intents
                tr = [at[t] for t in xs]
                Etr, Eev = embed(tr, np.array([intents.index(c) for c in ys]), len(intents), ev)
                clf = IntentClassifier.fit(xs, ys, encoder=enc, embeddings=Etr, **FEWSHOT)
                accs.append(float(np.mean([clf.predict(t, use_encoder=True, embedding=Eev[i]).label == yv[i]
                                           for i, t in enumerate(xv)])))
            line[f"{line['split']}10_{s.name}_acc"] = round(float(np.mean(accs)), 4)
            line[f"{line['split']}10_{s.name}_seeds"] = [round(a, 4) for a in accs]
        line["mean_acc"] = round(float(np.mean([v for k, v in line.items() if k.endswith("_acc")])), 4)
        line["seconds"] = round(time.perf_counter() - t0)
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
