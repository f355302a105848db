"""Train the shipped risk model (offline; needs scikit-learn, a dev dependency).

    .venv/bin/python tools/train_risk.py            # writes src/turngate/data/guard_risk.json.gz
    .venv/bin/python tools/train_risk.py --report   # validation figures only, nothing written

One logistic model per kind (self_harm, threat, abuse), one-vs-rest, over the
features the injection model uses (word 1-2-grams and character 3-5-grams,
``injection.features``), scored at run time by ``injection.LinearModel`` (a dict
lookup per n-gram; no scikit-learn at run time).

Trained ONLY on licensed text: the *train* splits of openai_moderation (MIT),
hatecheck, xstest and cssrs_reddit (CC BY 4.0) from ``risk_data.licensed_splits``,
Banking77 + CLINC150 train (plain service text, never risky) and the
hand-written caller lines of ``risk_templates``. The unlicensed twitter and OLID
sets and SimpleSafetyTests are never trained on.

Thresholds, one per kind, on the *val* splits only: the lowest score at which
the kind's false positives on the benign look-alike val pool (the val benign rows
of xstest and openai_moderation, plus 2,000 held-out Banking77 train
rows and CLINC150 val + oos_val) stay within ``VAL_FPR``. C-SSRS "supportive"
users (people who write about suicide to help others) are trained on as
negatives but are not in that pool, nor are HateCheck's benign rows (mostly
counter-speech that quotes a threat to condemn it): both are scored apart.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "src"))

import risk_data  # noqa: E402
import risk_templates  # noqa: E402

from turngate.gates.guard.injection import LinearModel, features  # noqa: E402

OUT = risk_data.ROOT / "src" / "turngate" / "data" / "guard_risk.json.gz"
C = 8.0
TEMPLATE_WEIGHT = 3.0
VAL_FPR = 0.001  # per kind, on the look-alike val pool (0.0015 let "absolutely" through as abuse; 0.0005 cost half the self-harm recall)
MIN_WEIGHT = 0.25  # smaller weights are dropped from the shipped file (0.1: 765 KB, same val figures within a row)


def training_rows(splits) -> tuple[list[str], list[str], list[float]]:
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    for parts in splits.values():
        for t, lab in parts["train"]:
            texts.append(t)
            labels.append(lab)
            weights.append(1.0)
    for t in risk_data.service_text()["train"]:
        texts.append(t)
        labels.append("benign")
        weights.append(1.0)
    rng = random.Random(risk_data.SEED)
    for t, kind in risk_templates.positives(rng):
        texts.append(t)
        labels.append(kind)
        weights.append(TEMPLATE_WEIGHT)
    for t in risk_templates.negatives(rng):
        texts.append(t)
        labels.append("benign")
        weights.append(TEMPLATE_WEIGHT)
    return texts, labels, weights


def val_pools(splits) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
    """(benign look-alike pool, source -> val rows)."""
    pool = [t for name in ("xstest", "openai_moderation")
            for t, lab in splits[name]["val"] if lab == "benign"]
    pool += risk_data.service_text()["val"]
    return pool, {name: parts["val"] for name, parts in splits.items()}


def fit(texts: list[str], labels: list[str], weights: list[float]) -> dict[str, LinearModel]:
    from sklearn.linear_model import LogisticRegression

    from train_injection import ngram_matrix

    X, names = ngram_matrix(texts)
    models = {}
    for kind in risk_data.RISK_KINDS:
        y = np.array([lab == kind for lab in labels], dtype=int)
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, solver="liblinear", random_state=0)
        clf.fit(X, y, sample_weight=np.array(weights))
        w = {str(n): round(float(c), 4) for n, c in zip(names, clf.coef_[0]) if abs(c) >= MIN_WEIGHT}
        models[kind] = LinearModel(weights=w, bias=float(clf.intercept_[0]), threshold=0.5)
    return models


def thresholds(models: dict[str, LinearModel], pool: list[str]) -> dict[str, float]:
    out = {}
    for kind, m in models.items():
        scores = sorted((m.score(t) for t in pool), reverse=True)
        out[kind] = scores[int(VAL_FPR * len(scores))] + 1e-6
    return out


def report(models: dict[str, LinearModel], thr: dict[str, float], pool, by_source) -> dict:
    def flagged(t: str) -> str:
        hits = [(m.score(t) / thr[k], k) for k, m in models.items() if m.score(t) >= thr[k]]
        return max(hits)[1] if hits else ""

    out: dict = {"pool_fpr": round(sum(bool(flagged(t)) for t in pool) / len(pool), 5), "pool_n": len(pool)}
    for name, rows in by_source.items():
        for kind in ("self_harm", "threat", "abuse", "benign"):
            sel = [t for t, lab in rows if lab == kind]
            if sel:
                out[f"{name}.{kind}"] = (round(sum(bool(flagged(t)) for t in sel) / len(sel), 4), len(sel))
    return out


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # two cores shared by many: no BLAS threads
    splits = risk_data.licensed_splits()
    texts, labels, weights = training_rows(splits)
    models = fit(texts, labels, weights)
    pool, by_source = val_pools(splits)
    thr = thresholds(models, pool)
    rep = report(models, thr, pool, by_source)
    print("thresholds", {k: round(v, 4) for k, v in thr.items()})
    print("validation (flag rate, n):", json.dumps(rep))
    if "--report" in sys.argv[1:]:
        return
    blob = {
        "kinds": {k: {"weights": m.weights, "bias": m.bias, "threshold": thr[k]} for k, m in models.items()},
        "meta": {
            "trained_on": [f"{n} train split (seed {risk_data.SEED})" for n in risk_data.LICENSED]
            + ["Banking77 train (less 2,000 rows)", "CLINC150 train + oos_train",
               "turngate risk_templates (hand-written caller lines)"],
            "thresholds_set_on": f"val splits: xstest/openai benign + 2,000 Banking77 train rows "
                                 f"+ CLINC150 val + oos_val, <= {VAL_FPR} false positives per kind",
            "licences": "openai_moderation MIT; hatecheck, xstest, cssrs_reddit CC BY 4.0; Banking77 CC BY 4.0; "
                        "CLINC150 CC BY 3.0",
            "n_texts": len(texts), "validation": rep,
        },
    }
    OUT.write_bytes(gzip.compress(json.dumps(blob, separators=(",", ":")).encode(), mtime=0))
    print(f"{sum(len(m.weights) for m in models.values())} weights -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
