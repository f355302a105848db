"""Train the acoustic backchannel classifier (turngate.audio.backchannel) and write its weights.

    .venv/bin/python tools/train_backchannel.py            # writes src/turngate/data/backchannel.json.gz

What it learns from. Both classes come from the same sources, so the model cannot learn
"which engine made this" instead of "backchannel or interruption":

- backchannels ("uh-huh", "yeah", "okay", "right", "um hum", "sure", "yes", "I see", "yep",
  "got it", ... ``BACKCHANNELS``) and interruptions (short and long: "wait", "no", "stop",
  "hold on", "yeah but I need", "okay so can you", "no that's the wrong card", ...
  ``INTERRUPTIONS_A``), each spoken by the SAME synthetic voices: flite ``kal`` and a set of
  espeak-ng voices/variants (``TRAIN_VOICES``), with speed and pitch varied per utterance.
- validation (threshold choice): flite ``kal16`` and other espeak-ng variants
  (``VALIDATION_VOICES``), the same two phrase lists.
- held out entirely (never trained on, never used to choose anything): flite ``rms``, ``slt``
  and ``awb`` (the barge-in bench's caller voices) speaking all the backchannels and a second
  list of interruptions (``INTERRUPTIONS_B``) no training voice speaks; and all real speech
  (AMI meeting segments, VoxConverse and read-speech onsets): see bench/backchannel.py.

Every utterance is put on a simulated phone line: active level -35 to -20 dBFS; a share with
a noise bed from ``audio/noise`` at -45 dBFS, a share with our bot's echo (flite ``kal``
reading the bench's bot answers at -20 dBFS, 120-250 ms later, 12-18 dB down), a share with
both; then 8 kHz mu-law. The onset is the bench's voiced onset (``bench/bargein.py``
``voiced_onset``: the first 30 ms within 20 dB of the clean utterance's loudest), jittered by
up to +-30 ms in training so the model does not depend on the exact alignment.

One gradient-boosted tree model (``N_TREES`` trees of depth ``DEPTH``, classes weighted
equally) on the features of ``turngate.audio.backchannel.features`` over [onset - 100 ms,
onset + t], with every utterance at each decision point t = 100, 150, 200, 250, 300 ms (t
is a feature). One threshold per decision point is chosen on the validation split: the
lowest at which at most ``MAX_FALSE_BC`` of the validation interruptions score as
backchannels. Seeded (``SEED``) and deterministic: two runs write the same bytes.

    .venv/bin/python tools/train_backchannel.py --cross-engine   # how the model was chosen

Measured on held-out data it scores at chance (docs/benchmarks.md, "Backchannel classifier
(issue 13)"): these synthetic voices do not teach cues that carry to other voices.

Needs flite and espeak-ng (the Makefile's ``system-packages`` installs both). The phrases, the
voices of each split and the simulated line live in ``tools/backchannel_data.py``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tools"))

from turngate.audio.backchannel import FEATURES, LEAD_MS, BackchannelModel, features  # noqa: E402
from backchannel_data import (  # noqa: E402
    CONDITIONS, HELDOUT_VOICES, INTERRUPTIONS_A, Line, SEED, TRAIN_VOICES, Utterance, VALIDATION_VOICES, Voice, _seed, clip, jitter_ms, synthesize, synthetic_set,
)

OUT = ROOT / "src" / "turngate" / "data" / "backchannel.json.gz"
DECISION_MS = (100, 150, 200, 250, 300)
MAX_FALSE_BC = 0.05           # the validation split's interruptions called backchannel, at most
# Chosen by cross-engine validation on the training and validation voices (no held-out
# data; ``--cross-engine`` prints it): train on the espeak-ng voices and score flite
# kal/kal16, and the reverse; mean AUC over t = 100-250 ms. 100 trees of depth 2 on all
# features 0.666; 300 of depth 3 0.642; 100 of depth 2 on the 18 prosodic features only
# 0.602; a logistic regression 0.62. Speed (0.88-1.12), spectral tilt and telephone
# band-pass augmentation of the training voices did not help (0.640 with 100 x 2).
N_TREES = 100
DEPTH = 2

def feature_rows(utts: list[Utterance], t_ms: int, *, jitter: bool, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels at ``t_ms``, the onset jittered or as measured; no-evidence clips left out."""
    xs, ys = [], []
    for i, u in enumerate(utts):
        f = features(clip(u, t_ms, jitter_ms(split, i, t_ms) if jitter else 0))
        if f is None:
            continue
        f[0] = t_ms
        xs.append(f)
        ys.append(u.label)
    return np.array(xs), np.array(ys)


def threshold_for(scores_int: np.ndarray, max_false: float) -> float:
    """The lowest threshold at which at most ``max_false`` of these interruptions score >= it."""
    s = np.sort(scores_int)[::-1]
    allowed = int(np.floor(max_false * len(s)))
    # Scores >= threshold count as backchannel; put it just above the (allowed+1)-th highest.
    return float(np.nextafter(s[allowed], 1.0)) if allowed < len(s) else 0.0


def export_trees(gb, X: np.ndarray) -> dict:
    """The fitted trees as padded arrays (see ``BackchannelModel``) and the log-odds start."""
    trees = [est[0].tree_ for est in gb.estimators_]
    width = max(t.node_count for t in trees)
    pad = lambda rows, fill: [list(r) + [fill] * (width - len(r)) for r in rows]  # noqa: E731
    first = X[:1].astype(np.float32)
    init = float(gb.decision_function(X[:1])[0] - gb.learning_rate * sum(t.predict(first)[0, 0] for t in trees))
    return {
        "init": init,
        "learning_rate": gb.learning_rate,
        "trees": {
            "depth": int(max(t.max_depth for t in trees)),
            "feature": pad([np.maximum(t.feature, 0).tolist() for t in trees], 0),
            "threshold": pad([t.threshold.tolist() for t in trees], 0.0),
            "left": pad([t.children_left.tolist() for t in trees], -1),
            "right": pad([t.children_right.tolist() for t in trees], -1),
            "value": pad([t.value[:, 0, 0].tolist() for t in trees], 0.0),
        },
    }


def training_rows(utts: list[Utterance], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Every utterance at every decision point, onset jittered: one row each."""
    rows = [feature_rows(utts, t, jitter=True, split=split) for t in DECISION_MS]
    return np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows])


def fit(train: list[Utterance]):
    """Gradient-boosted trees, classes weighted to count equally."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = training_rows(train, "train")
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    gb = GradientBoostingClassifier(n_estimators=N_TREES, max_depth=DEPTH, learning_rate=0.05, subsample=0.8,
                                    random_state=SEED)
    gb.fit(X, y, sample_weight=weight)
    print(f"train rows: {len(y)} ({int(y.sum())} backchannel) from {len(train)} utterances")
    return gb, X


def validation_thresholds(model, val: list[Utterance]) -> dict[str, float]:
    """Per decision point, the threshold at which at most MAX_FALSE_BC of the validation
    interruptions score as backchannels: ``model.score`` of each clip as the bench scores it
    (the onset as measured, no jitter; a clip with no evidence scores NO_EVIDENCE)."""
    out = {}
    y = np.array([u.label for u in val])
    for t in DECISION_MS:
        p = np.array([model.score(clip(u, t)) for u in val])
        out[str(t)] = threshold_for(p[y == 0], MAX_FALSE_BC)
        print(f"t={t} ms: validation n={len(y)} ({int(y.sum())} bc); threshold {out[str(t)]:.3f} -> "
              f"bc recall {np.mean(p[y == 1] >= out[str(t)]):.3f}")
    return out


def cross_engine(train: list[Utterance], val: list[Utterance]) -> None:
    """How the model choice was made: train on the espeak-ng voices and score flite kal/kal16,
    and the reverse (training and validation voices pooled; no held-out voice), AUC at
    t = 100-250 ms. Also ``voice-normalised``: every feature less the mean of the same
    voice's interruption clips at the same t (a stand-in for "the caller's earlier turns";
    that mean includes the clip itself when it is an interruption, so it flatters a little).
    Not shipped: the scorer has no caller reference."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    pool = train + val
    groups = {e: [u for u in pool if u.source == e] for e in ("espeak", "flite")}

    def rows(utts, ts, jitter, split):
        out = []
        for t in ts:
            for i, u in enumerate(utts):
                f = features(clip(u, t, jitter_ms(split, i, t) if jitter else 0))
                if f is not None:
                    f[0] = t
                    out.append((f, u.label, t, u.voice))
        X = np.array([r[0] for r in out])
        return X, np.array([r[1] for r in out]), np.array([r[2] for r in out]), np.array([r[3] for r in out])

    def voice_norm(X, y, T, V):
        Z = X.copy()
        for v in np.unique(V):
            for t in np.unique(T):
                m = (V == v) & (T == t)
                ref = X[m & (y == 0)].mean(axis=0)
                ref[0] = 0.0
                Z[m] = X[m] - ref
        return Z

    def gb(n, d):
        return lambda: GradientBoostingClassifier(n_estimators=n, max_depth=d, learning_rate=0.05, subsample=0.8,
                                                  random_state=0)

    prosodic = list(range(18))
    configs = {
        f"{N_TREES} trees depth {DEPTH}, all features (shipped)": (gb(N_TREES, DEPTH), None, False),
        "300 trees depth 3, all features": (gb(300, 3), None, False),
        f"{N_TREES} trees depth {DEPTH}, 18 prosodic features": (gb(N_TREES, DEPTH), prosodic, False),
        "logistic regression, all features": (
            lambda: LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000), None, False),
        f"{N_TREES} trees depth {DEPTH}, voice-normalised": (gb(N_TREES, DEPTH), None, True),
    }
    data = {}
    for src, dst in (("espeak", "flite"), ("flite", "espeak")):
        data[src] = (rows(groups[src], DECISION_MS, True, "train"), rows(groups[dst], DECISION_MS[:4], False, "val"))
    for name, (make, cols, vnorm) in configs.items():
        aucs = []
        for src in ("espeak", "flite"):
            (X, y, T, V), (Xv, yv, Tv, Vv) = data[src]
            if vnorm:
                X, Xv = voice_norm(X, y, T, V), voice_norm(Xv, yv, Tv, Vv)
            if cols is not None:
                X, Xv = X[:, cols], Xv[:, cols]
            mean, scale = X.mean(axis=0), X.std(axis=0)
            scale[scale < 1e-9] = 1.0
            model = make()
            weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
            model.fit((X - mean) / scale, y, sample_weight=weight)
            p = model.predict_proba((Xv - mean) / scale)[:, 1]
            aucs += [auc(p[(Tv == t) & (yv == 1)], p[(Tv == t) & (yv == 0)]) for t in DECISION_MS[:4]]
        print(f"{name:<44} mean AUC {np.mean(aucs):.3f}; espeak->flite "
              + " ".join(f"{a:.2f}" for a in aucs[:4]) + "; flite->espeak " + " ".join(f"{a:.2f}" for a in aucs[4:]))


# -- the caller-relative experiment (not shipped) ----------------------------------------
# Sentences a caller might open a call with, spoken by every voice: they stand in for "the
# caller's earlier turns", the reference a caller-relative scorer would need. Disjoint from
# both interruption lists.
REFERENCE_PHRASES = (
    "hi I'm calling about my bill", "I'd like to book an appointment for next week",
    "yes my account number is four five six seven", "can you tell me my balance please",
    "good morning I have a question about my card", "I moved house and need to update my details",
)


def references(voices: tuple[Voice, ...], line: Line, split: str) -> dict[str, list[Utterance]]:
    """Each voice's REFERENCE_PHRASES on the line (conditions in turn), by voice name."""
    out: dict[str, list[Utterance]] = {}
    for v in voices:
        for k, text in enumerate(REFERENCE_PHRASES):
            rng = np.random.default_rng(_seed(split, "reference", v.engine, v.name, text))
            put = line.put(synthesize(v, text, rng), CONDITIONS[k % len(CONDITIONS)], rng)
            if put is not None:
                name = f"{v.engine}:{v.name}"
                out.setdefault(name, []).append(Utterance(0, text, name, CONDITIONS[k % len(CONDITIONS)],
                                                          put[0], put[1], v.engine))
    return out


def reference_vector(refs: list[Utterance], t_ms: int) -> np.ndarray:
    """The mean feature vector of a caller's reference onsets at ``t_ms`` (t itself left at 0)."""
    fs = [f for f in (features(clip(u, t_ms)) for u in refs) if f is not None]
    r = np.mean(fs, axis=0)
    r[0] = 0.0
    return r


class CallerRelative:
    """The experiment: the same trees on features less the caller's reference vector at the
    same t, thresholds chosen on the validation voices the same way (<= MAX_FALSE_BC)."""

    def __init__(self, train: list[Utterance], train_refs: dict[str, list[Utterance]],
                 val: list[Utterance], val_refs: dict[str, list[Utterance]]) -> None:
        from sklearn.ensemble import GradientBoostingClassifier

        self._refs: dict[tuple[int, int], np.ndarray] = {}
        X, y = [], []
        for t in DECISION_MS:
            for i, u in enumerate(train):
                f = self.features(clip(u, t, jitter_ms("train", i, t)), train_refs[u.voice], t)
                if f is not None:
                    X.append(f)
                    y.append(u.label)
        X, y = np.array(X), np.array(y)
        self.gb = GradientBoostingClassifier(n_estimators=N_TREES, max_depth=DEPTH, learning_rate=0.05,
                                             subsample=0.8, random_state=SEED)
        self.gb.fit(X, y, sample_weight=np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean())))
        yv = np.array([u.label for u in val])
        self.thresholds = {}
        for t in DECISION_MS:
            p = np.array([self.score(clip(u, t), val_refs[u.voice], t) for u in val])
            self.thresholds[t] = threshold_for(p[yv == 0], MAX_FALSE_BC)

    def features(self, pcm: np.ndarray, refs: list[Utterance], t_ms: int) -> np.ndarray | None:
        f = features(pcm)
        if f is None:
            return None
        key = (id(refs), t_ms)
        if key not in self._refs:
            self._refs[key] = reference_vector(refs, t_ms)
        f[0] = t_ms
        return f - self._refs[key]

    def score(self, pcm: np.ndarray, refs: list[Utterance], t_ms: int) -> float:
        f = self.features(pcm, refs, t_ms)
        return 0.5 if f is None else float(self.gb.predict_proba(f[None, :])[0, 1])


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counted half."""
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cross-engine", action="store_true",
                    help="print the cross-engine validation of the candidate models instead of training")
    args = ap.parse_args()
    for tool in ("flite", "espeak-ng"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: make system-packages installs it")
    line = Line()
    train = synthetic_set(TRAIN_VOICES, INTERRUPTIONS_A, line, "train")
    val = synthetic_set(VALIDATION_VOICES, INTERRUPTIONS_A, line, "val")
    print(f"train: {len(train)} utterances ({sum(u.label for u in train)} backchannels), "
          f"validation: {len(val)} ({sum(u.label for u in val)})")
    if args.cross_engine:
        cross_engine(train, val)
        return
    gb, X = fit(train)
    spec = {
        "model": f"turngate backchannel classifier (issue 13): {N_TREES} gradient-boosted trees of depth {DEPTH}",
        "trained_by": "tools/train_backchannel.py",
        "seed": SEED,
        "lead_ms": LEAD_MS,
        "features": list(FEATURES),
        "threshold_rule": f"validation split (flite kal16 + espeak-ng {len(VALIDATION_VOICES) - 1} variants): "
                          f"lowest threshold with <= {MAX_FALSE_BC:.0%} of interruptions scored as backchannel",
        "train_voices": [f"{v.engine}:{v.name}" for v in TRAIN_VOICES],
        "validation_voices": [f"{v.engine}:{v.name}" for v in VALIDATION_VOICES],
        "heldout_voices": [f"{v.engine}:{v.name}" for v in HELDOUT_VOICES],
        "decision_ms": list(DECISION_MS),
        **export_trees(gb, X),
    }
    # The exported trees must give scikit-learn's probabilities before the thresholds are chosen.
    model = BackchannelModel(spec | {"thresholds": {"100": 0.5}})
    want = gb.predict_proba(X[:200])[:, 1]
    got = np.array([model.prob(f) for f in X[:200]])
    if np.max(np.abs(want - got)) > 1e-6:
        raise SystemExit(f"exported trees disagree with scikit-learn by {np.max(np.abs(want - got)):.2e}")
    spec["thresholds"] = validation_thresholds(model, val)
    # mtime=0: the same model gives the same bytes.
    args.out.write_bytes(gzip.compress(json.dumps(spec, separators=(",", ":")).encode(), mtime=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
