"""Few-shot routing for bench/route.py: ``fewshot10_{banking77,hwu64,clinc150}_acc`` (mean
over the seeds of sampled 10-per-intent training sets; HWU64's standard ``train_10``) and
the 30-shot figures, with the router's classifier as a policy of that size would train it.

Configuration (``FEWSHOT``, chosen on validation splits only, see fewshot_data and
docs/benchmarks.md): the intent names as one extra example each (a policy's route
descriptions play that part), the sentence view centred on the training mean, its
logistic model at C=100; on finals 0.8 sentence view + 0.1 static view + 0.1 sparse view;
partials keep the static view (C=10) at weight 0.5 against the sparse one. ``DEFAULT`` is the classifier's configuration before
(C=10, weight 0.5, no descriptions, no centring), reported beside it.

    .venv/bin/python bench/route.py --no-full        # few-shot and context figures only
"""

from __future__ import annotations

import sys
import time

import numpy as np

from fewshot_data import SEEDS, all_sets, embed, label_text, token_states
from turngate.gates.route.classifier import IntentClassifier

FEWSHOT = {"encoder_C": 100.0, "encoder_weight": 0.8, "static_weight": 0.5, "static_C": 10.0,
           "final_static_weight": 0.1, "encoder_center": True}
DESCRIBE = True
DEFAULT = {"encoder_C": 10.0, "encoder_weight": 0.5}
# The encoder's last two layers tuned on each training set first (chosen on validation over
# the last feed-forward block alone, 3 epochs at lr 1e-3, and other designs:
# bench/route_tune_layers.py, docs/benchmarks.md); everything else as FEWSHOT. The headline
# fewshot10_*_acc; the frozen encoder's beside it (*_frozen).
TUNE = {"encoder_tune_epochs": 3, "encoder_tune_lr": 3e-4, "encoder_tune_layers": 2}


def _fit(xs, ys, E, encoder, intents, Elab, config, describe):
    if describe:
        xs, ys, E = list(xs) + [label_text(c) for c in intents], list(ys) + intents, np.vstack([E, Elab])
    return IntentClassifier.fit(xs, ys, encoder=encoder, embeddings=E, **config)


def run(encoder, *, shots=(10, 30), time_calls=None, partials=None, tune: bool = False,
        split: str = "test", seeds=SEEDS) -> dict[str, object]:
    """``split="val"``: score the validation splits instead (where the settings were chosen;
    the tuning settings on seeds 0-1)."""
    res: dict[str, object] = {}
    extra: dict[str, object] = {}
    for s in all_sets():
        t0 = time.perf_counter()
        intents = sorted(s.pool)
        pool = [t for ex in s.pool.values() for t in ex]
        Epool, at = embed(encoder, pool), {t: i for i, t in enumerate(pool)}
        Elab = embed(encoder, [label_text(c) for c in intents])
        xte, yte = s.test if split == "test" else s.val
        Ete = embed(encoder, xte)
        E10 = embed(encoder, s.fixed10[0]) if s.fixed10 else None
        y = np.asarray(yte)
        if tune:  # token states for the tuned encoder (cached like the embeddings)
            n = TUNE["encoder_tune_layers"]
            states = dict(zip(pool, token_states(encoder, pool, n)))
            states.update(zip([label_text(c) for c in intents], token_states(encoder, [label_text(c) for c in intents], n)))
            if s.fixed10:
                states.update(zip(s.fixed10[0], token_states(encoder, s.fixed10[0], n)))
            Ste = token_states(encoder, xte, n)
        for k in shots:
            seeds_k = [0] if (k == 10 and s.fixed10) or k >= 30 else list(seeds)  # 30-shot: the whole pool
            accs, accs_default, accs_partial, accs_tuned = [], [], [], []
            for seed in seeds_k:
                xs, ys = s.shots(k, seed)
                E = E10 if (k == 10 and s.fixed10) else Epool[[at[t] for t in xs]]
                clf = _fit(xs, ys, E, encoder, intents, Elab, FEWSHOT, DESCRIBE)
                accs.append(np.mean([clf.predict(t, use_encoder=True, embedding=Ete[i]).label == y[i]
                                     for i, t in enumerate(xte)]))
                if tune and k == 10:
                    xs2 = list(xs) + [label_text(c) for c in intents]
                    tuned = IntentClassifier.fit(xs2, list(ys) + intents, encoder=encoder,
                                                 token_states=[states[t] for t in xs2], **FEWSHOT, **TUNE)
                    accs_tuned.append(np.mean([tuned.predict(t, use_encoder=True, states=Ste[i]).label == y[i]
                                               for i, t in enumerate(xte)]))
                accs_partial.append(np.mean([clf.predict(t).label == y[i] for i, t in enumerate(xte)]))
                base = _fit(xs, ys, E, encoder, intents, Elab, DEFAULT, False)
                accs_default.append(np.mean([base.predict(t, use_encoder=True, embedding=Ete[i]).label == y[i]
                                             for i, t in enumerate(xte)]))
                if time_calls is not None and s.name == "banking77" and k == 10 and seed == seeds_k[0]:
                    lat, _ = time_calls(lambda q: clf.decide(clf.log_proba(q)), partials(xte, 2000))
                    extra["fewshot_latency_us_p50"] = round(float(np.percentile(lat, 50)), 1)
                    extra["fewshot_latency_us_p99"] = round(float(np.percentile(lat, 99)), 1)
            key = f"fewshot{k}_{s.name}_acc"
            if accs_tuned:  # the configuration chosen on validation: the headline figure
                accs, accs_frozen = accs_tuned, accs
                extra[f"{key}_frozen"] = round(float(np.mean(accs_frozen)), 4)
                extra[f"{key}_frozen_seeds"] = [round(float(a), 4) for a in accs_frozen]
            (res if k == 10 else extra)[key] = round(float(np.mean(accs)), 4)
            extra[f"{key}_seeds"] = [round(float(a), 4) for a in accs]
            extra[f"{key}_before"] = round(float(np.mean(accs_default)), 4)
            extra[f"{key}_partial_path"] = round(float(np.mean(accs_partial)), 4)
        extra[f"fewshot_{s.name}_test_n"] = len(xte)
        print(f"  few-shot {s.name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return {**res, **extra}
