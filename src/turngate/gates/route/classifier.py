"""The embedded intent classifier behind the Route gate.

Theory of operation
-------------------
Partials arrive many times a second per call, so classification must cost
microseconds. The model is a linear SVM (one-vs-rest) over two sparse views of the text, each TF-IDF weighted (sublinear term frequency) and
L2-normalised on its own:

* word unigrams and bigrams: what the caller asks for;
* character n-grams (1-5) inside word boundaries: robust to speech-recogniser
  errors ("refund" heard as "re fund", "cancelation", "appointmant"), because a
  misrecognised word still shares most of its n-grams with the right one.

scikit-learn fits the vocabulary, IDF and weights once at start-up; a softmax
temperature fitted on held-out margins turns scores into probabilities. Prediction
does not go through scikit-learn (its per-call overhead is about a millisecond):
the analyzers produce n-grams, a dict maps them to rows, and one gather-and-sum
over a dense float32 weight matrix gives the class scores. That is the whole
hot path.

Out-of-scope: a label named ``unknown`` (configurable) may be trained like any
other class from out-of-scope examples; on top of that, a probability floor
(``unknown_below``) turns a weak best guess into ``unknown``. Both are data of
the fitted model, so the same object serves the policy router and the benchmark.

An optional encoder (such as :class:`turngate.embedding.minilm.MiniLMEncoder`)
adds two dense logistic models, each averaged with the sparse one in
log-probability (equal weights):

* on every call, one over the mean of the encoder's *input* token embeddings
  (a static word-vector view: a gather and a mean, microseconds);
* with ``use_encoder=True``, instead one over the full contextual sentence
  embedding. That costs milliseconds, so the router uses it on finals only.

With few examples per class (a policy's routes), ``encoder_tune_epochs`` first tunes
the encoder's last feed-forward block on them (the encoder's ``tune``; see
``embedding.tuning``), or with ``encoder_tune_layers`` its last whole layers: the
sentence view then reads the tuned weights on finals. Partials never use them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["IntentClassifier", "Prediction", "SentenceEncoder"]


class SentenceEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...
    def encode_one(self, text: str) -> np.ndarray: ...
    # The cheap view: the mean of the encoder's input token embeddings (no layers).
    def encode_static(self, texts: list[str]) -> np.ndarray: ...
    def encode_static_one(self, text: str) -> np.ndarray: ...
    # Only for a router that tunes the encoder (``encoder_tune_epochs``): token states
    # before the last feed-forward block, the tuning, and embeddings through a tuned block.
    # (``layers`` > 0: the states entering, and the tuning of, the last whole layers).
    def encode_tokens(self, texts: list[str], layers: int = 0) -> list[np.ndarray]: ...
    def tune(self, states: list[np.ndarray], labels: np.ndarray, n_classes: int, *,
             epochs: int, lr: float, layers: int = 0) -> Any: ...
    def finish(self, states: list[np.ndarray], params: Any, layers: int = 0) -> np.ndarray: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    label: str
    confidence: float
    runner_up: str
    runner_up_confidence: float
    raw_label: str  # the best class before the out-of-scope floor was applied
    score: float    # what the out-of-scope floor is compared with (see ``fit``)


@dataclass(frozen=True, slots=True)
class _View:
    analyzer: Callable[[str], list[str]]
    vocab: dict[str, int]   # n-gram -> column of this view
    idf: np.ndarray         # per column of this view
    offset: int             # where this view's columns start in the weight matrix


class IntentClassifier:
    """A fitted, immutable intent classifier. Build it with :meth:`fit`."""

    __slots__ = ("labels", "unknown_label", "unknown_below", "_views", "_W", "_b",
                 "_encoder", "_eW", "_eb", "_encoder_weight", "_sW", "_sb",
                 "_char_memo", "_char_range", "_centroids", "_static_weight", "_center",
                 "_final_static_weight", "_tuned", "_tune_layers")

    def __init__(self) -> None:  # pragma: no cover - use fit()
        raise TypeError("use IntentClassifier.fit(texts, labels)")

    # -- training ---------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        unknown_label: str = "unknown",
        unknown_below: float = 0.0,
        C: float = 0.5,
        char_ngrams: tuple[int, int] = (1, 5),
        encoder: SentenceEncoder | None = None,
        encoder_C: float = 10.0,
        encoder_weight: float = 0.5,
        embeddings: np.ndarray | None = None,
        oos_similarity: bool = False,
        encoder_center: bool = False,
        static_weight: float | None = None,
        static_C: float | None = None,
        final_static_weight: float = 0.0,
        encoder_tune_epochs: int = 0,
        encoder_tune_lr: float = 1e-3,
        encoder_tune_layers: int = 0,
        token_states: list[np.ndarray] | None = None,
    ) -> IntentClassifier:
        """Fit on a labelled set. ``embeddings`` may pass precomputed encoder
        vectors for ``texts`` (the benchmark caches them).

        ``encoder_weight`` is the sentence view's weight in the average on finals;
        ``static_weight`` the static view's on partials (default: the same), and
        ``final_static_weight`` its share on finals (taken from the sparse view's);
        ``static_C`` its regularisation (default: ``encoder_C``).
        ``encoder_tune_epochs`` > 0 tunes the encoder's last feed-forward block on these
        examples first (``embedding.tuning``; the encoder must offer ``encode_tokens``);
        ``token_states`` may pass those states precomputed, as ``embeddings`` does.
        ``encoder_tune_layers`` > 0 tunes the last whole layers instead (attention included;
        the states are then those entering them).
        ``encoder_center`` centres sentence embeddings on the training mean (and
        re-normalises them) before the logistic model: with few examples per class
        the shared direction of all MiniLM embeddings otherwise dominates them.

        The out-of-scope floor is compared with the best class's probability;
        with an encoder and ``oos_similarity``, with that probability times the
        cosine similarity to the nearest in-scope class centroid, which also
        catches confident guesses on sentences unlike anything trained."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from scipy.sparse import hstack
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        texts = [_normalise(t) for t in texts]
        labels = [str(y) for y in labels]
        few = len(texts) < 2000
        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, sublinear_tf=True,
                               lowercase=False, min_df=1 if few else 2)
        X = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
        svm = LinearSVC(C=C, random_state=0)  # seeded: a replay must rebuild the same router
        svm.fit(X, labels)
        coef, b = svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row
            coef = np.vstack([-coef, coef]) / 2
            b = np.array([-b[0], b[0]], dtype=np.float32) / 2
        classes = [str(c) for c in svm.classes_]
        temperature = _calibrate_temperature(X, labels, classes, C=C)

        self = object.__new__(cls)
        self.labels = tuple(classes)
        self.unknown_label = unknown_label
        self.unknown_below = float(unknown_below)
        views = []
        offset = 0
        for vec in (word, char):
            views.append(_View(vec.build_analyzer(), dict(vec.vocabulary_),
                               vec.idf_.astype(np.float32), offset))
            offset += len(vec.vocabulary_)
        self._views = tuple(views)
        self._char_range = char_ngrams
        self._char_memo: dict[str, np.ndarray] = {}
        for t in texts:  # warm the memo with the training vocabulary
            for w in t.split():
                if w not in self._char_memo:
                    self._char_memo[w] = self._char_cols(w)
        # Rows are features so one fancy-index gathers what a text touches. The
        # temperature is folded into the weights: logits are ready for a softmax.
        self._W = np.ascontiguousarray(coef.T * temperature)
        self._b = b * temperature
        self._encoder = None
        self._eW = self._eb = None
        self._sW = self._sb = None
        self._centroids = None
        self._encoder_weight = float(encoder_weight)
        self._static_weight = float(encoder_weight if static_weight is None else static_weight)
        self._final_static_weight = float(final_static_weight)
        self._center = None
        self._tuned = None
        self._tune_layers = int(encoder_tune_layers)
        if encoder is not None:
            if encoder_tune_epochs > 0:
                states = token_states if token_states is not None else \
                    encoder.encode_tokens(texts, layers=self._tune_layers)
                index = {c: i for i, c in enumerate(classes)}
                self._tuned = encoder.tune(states, np.array([index[y] for y in labels]), len(classes),
                                           epochs=encoder_tune_epochs, lr=encoder_tune_lr, layers=self._tune_layers)
                E = encoder.finish(states, self._tuned)
            else:
                E = embeddings if embeddings is not None else encoder.encode(texts)
            if encoder_center:
                self._center = E.mean(0).astype(np.float32)
            elr = LogisticRegression(C=encoder_C, max_iter=3000)
            elr.fit(self._centred(E), list(labels))
            assert tuple(str(c) for c in elr.classes_) == self.labels
            self._encoder = encoder
            self._eW = np.ascontiguousarray(elr.coef_.T.astype(np.float32))
            self._eb = elr.intercept_.astype(np.float32)
            # Partials get a cheap dense view too: averaged input token
            # embeddings (microseconds), same regularisation and weight.
            S = encoder.encode_static(texts)
            slr = LogisticRegression(C=encoder_C if static_C is None else static_C, max_iter=3000)
            slr.fit(S, list(labels))
            assert tuple(str(c) for c in slr.classes_) == self.labels
            self._sW = np.ascontiguousarray(slr.coef_.T.astype(np.float32))
            self._sb = slr.intercept_.astype(np.float32)
            if oos_similarity:
                y = np.asarray(labels)
                cents = np.stack([E[y == c].mean(0) for c in self.labels if c != unknown_label])
                cents /= np.linalg.norm(cents, axis=1, keepdims=True)
                self._centroids = np.ascontiguousarray(cents.astype(np.float32))
        return self

    def with_unknown_below(self, floor: float) -> IntentClassifier:
        """The same fitted model with another out-of-scope floor (for calibration)."""
        other = object.__new__(IntentClassifier)
        for name in IntentClassifier.__slots__:
            setattr(other, name, getattr(self, name))
        other.unknown_below = float(floor)
        return other

    @property
    def has_encoder(self) -> bool:
        return self._encoder is not None

    def sentence_embedding(self, text: str) -> np.ndarray | None:
        """The encoder's plain (untuned) sentence embedding of ``text``, or None without an
        encoder. A shell's cached encoder already holds a prefetched final's: no second pass."""
        return self._encoder.encode_one(text) if self._encoder is not None else None

    # -- prediction (the hot path) -------------------------------------------------------

    def log_proba(self, text: str, *, use_encoder: bool = False,
                  embedding: np.ndarray | None = None, states: np.ndarray | None = None) -> np.ndarray:
        """Log-probabilities over ``labels``. ``embedding`` (or, when the encoder was tuned,
        the text's ``encode_tokens`` ``states``) may be passed precomputed."""
        return self._scored(text, use_encoder, embedding, states)[0]

    def predict(self, text: str, *, use_encoder: bool = False,
                embedding: np.ndarray | None = None, states: np.ndarray | None = None) -> Prediction:
        lp, sim = self._scored(text, use_encoder, embedding, states)
        return self.decide(lp, similarity=sim)

    def decide(self, lp: np.ndarray, *, similarity: float = 1.0) -> Prediction:
        top2 = np.argpartition(-lp, 1)[:2] if lp.shape[0] > 1 else np.array([0, 0])
        i, j = (int(top2[0]), int(top2[1])) if lp[top2[0]] >= lp[top2[1]] else (int(top2[1]), int(top2[0]))
        p1, p2 = math.exp(float(lp[i])), math.exp(float(lp[j]))
        raw = self.labels[i]
        score = p1 * similarity
        label = self.unknown_label if score < self.unknown_below else raw
        return Prediction(label=label, confidence=p1, runner_up=self.labels[j],
                          runner_up_confidence=p2, raw_label=raw, score=score)

    @property
    def tuned(self) -> bool:
        """The encoder's last block was tuned on the examples (finals need token states)."""
        return self._tuned is not None

    def _scored(self, text: str, use_encoder: bool, embedding: np.ndarray | None,
                states: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        z = self._sparse_logits(_normalise(text))
        lp = z - _logsumexp(z)
        if self._encoder is None:
            return lp, 1.0
        # One dense view joins the sparse one: the full sentence embedding when
        # asked (finals), else the static token view (every partial).
        sim = 1.0
        if use_encoder:
            if self._tuned is not None:
                if states is None:
                    states = self._encoder.encode_tokens([text], layers=self._tune_layers)[0]
                e = self._encoder.finish([states], self._tuned)[0]
            else:
                e = embedding if embedding is not None else self._encoder.encode_one(text)
            dz = self._centred(e) @ self._eW + self._eb
            if self._centroids is not None:
                sim = max(0.0, float((self._centroids @ e).max()))
            w = self._encoder_weight
            ws = self._final_static_weight
            if ws > 0:  # the static view joins finals too: a third vote, microseconds
                sz = self._encoder.encode_static_one(text) @ self._sW + self._sb
                lp = ((1 - w - ws) * lp + ws * (sz - _logsumexp(sz))) / (1 - w)
        else:
            dz = self._encoder.encode_static_one(text) @ self._sW + self._sb
            w = self._static_weight
        mix = (1 - w) * lp + w * (dz - _logsumexp(dz))
        return mix - _logsumexp(mix), sim

    def _centred(self, E: np.ndarray) -> np.ndarray:
        if self._center is None:
            return E
        C = E - self._center
        return C / np.maximum(np.linalg.norm(C, axis=-1, keepdims=True), 1e-9)

    def _sparse_logits(self, text: str) -> np.ndarray:
        word_view, char_view = self._views
        # Word view: few n-grams, count them directly.
        counts = Counter(word_view.analyzer(text))
        get = word_view.vocab.get
        wcols = np.fromiter((get(g, -1) for g in counts), dtype=np.intp, count=len(counts))
        wtf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        keep = wcols >= 0
        wcols, wtf = wcols[keep], wtf[keep]
        # Character view: n-grams never cross a word boundary (char_wb), so each
        # word's columns are memoised and a text is the sum of its words.
        memo = self._char_memo
        per_word = []
        for w in text.split():
            c = memo.get(w)
            if c is None:
                c = self._char_cols(w)
                if len(memo) > 50_000:
                    memo.clear()
                memo[w] = c
            per_word.append(c)
        ccols_all = np.concatenate(per_word) if per_word else np.empty(0, dtype=np.intp)
        ccols, ctf = np.unique(ccols_all, return_counts=True)
        out_rows = []
        out_vals = []
        for view, cols, tf in ((word_view, wcols, wtf), (char_view, ccols, ctf)):
            if cols.size == 0:
                continue
            w = (1.0 + np.log(tf.astype(np.float32))) * view.idf[cols]
            w *= 1.0 / np.sqrt(float(w @ w))
            out_rows.append(cols + view.offset)
            out_vals.append(w)
        if not out_rows:
            return self._b.copy()
        rows = np.concatenate(out_rows)
        vals = np.concatenate(out_vals)
        return vals @ self._W[rows] + self._b

    def _char_cols(self, word: str) -> np.ndarray:
        # The same n-grams as scikit-learn's char_wb analyzer, for one word.
        lo, hi = self._char_range
        w = f" {word} "
        L = len(w)
        grams: list[str] = []
        for n in range(lo, hi + 1):
            if n >= L:
                grams.append(w)
                break
            grams.extend([w[i : i + n] for i in range(L - n + 1)])
        get = self._views[1].vocab.get
        cols = [c for c in (get(g, -1) for g in grams) if c >= 0]
        return np.asarray(cols, dtype=np.intp)

    def describe(self) -> dict[str, Any]:
        return {
            "classes": len(self.labels),
            "features": int(self._W.shape[0]),
            "encoder": self._encoder is not None,
            "unknown_below": self.unknown_below,
        }


def _calibrate_temperature(X: Any, labels: list[str], classes: list[str], *, C: float) -> float:
    """The softmax temperature that turns SVM margins into honest probabilities.

    Margins on the training data itself are over-confident, so fit on half,
    score the other half, and pick the temperature with the least negative
    log-likelihood there (a one-dimensional grid is plenty)."""
    from sklearn.svm import LinearSVC

    n = X.shape[0]
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    a, b = order[: n // 2], order[n // 2 :]
    y = np.asarray(labels)
    if len(set(y[a])) < len(classes) or len(b) == 0:
        return 5.0
    svm = LinearSVC(C=C, random_state=0).fit(X[a], y[a])
    scores = svm.decision_function(X[b])
    if scores.ndim == 1:
        scores = np.stack([-scores / 2, scores / 2], axis=1)
    col = {c: i for i, c in enumerate(str(c) for c in svm.classes_)}
    truth = np.array([col.get(t, -1) for t in y[b]])
    keep = truth >= 0
    scores, truth = scores[keep], truth[keep]
    best_t, best_nll = 5.0, float("inf")
    for t in np.geomspace(0.5, 50.0, 40):
        z = scores * t
        z = z - z.max(1, keepdims=True)
        nll = float(-(z[np.arange(len(truth)), truth] - np.log(np.exp(z).sum(1))).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _logsumexp(z: np.ndarray) -> float:
    m = float(z.max())
    return m + math.log(float(np.exp(z - m).sum()))


def _normalise(text: str) -> str:
    # Recognisers and people disagree on case and punctuation; neither carries intent.
    return " ".join(text.lower().split())
