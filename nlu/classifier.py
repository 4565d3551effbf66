"""Intent classifier: word + character n-gram TF-IDF, a linear SVM, temperature-scaled softmax.

Temperature, the fallback threshold and the unknown-word exponent are fitted on validation data:
the caller's, or a stratified hold-out of the training data when there is none (never the test
data).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from nlu.types import OUT_OF_SCOPE_INTENT

_DIGITS = re.compile(r"\d")
_APOS = re.compile(r"[’'`ʼ]")
FloatArray = npt.NDArray[np.float64]
_WORD_RE = re.compile(r"(?u)\b\w+\b")
_SPACES = re.compile(r"\s\s+")


def normalize(text: str) -> str:
    """Lowercase, unify apostrophes and map digits to 0 (numbers carry no intent)."""
    return _DIGITS.sub("0", _APOS.sub("'", text.lower()))


@dataclass
class ClassifierConfig:
    """Hyper-parameters; the defaults were chosen on BANKING77/CLINC150 validation splits."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    c: float = 1.0
    holdout: float = 0.15
    max_fallback_loss: float = 0.01  # in-scope accuracy we accept to lose to the threshold
    oos_weight: float = 0.25  # assumed share of out-of-scope traffic when tuning the threshold
    # With out-of-scope validation examples and ``min_oos_recall`` set, the threshold maximises
    # in-scope accuracy subject to that out-of-scope recall instead of the ``oos_weight`` rule.
    min_oos_recall: float | None = None
    # Exponents tried for the known-word share in the fallback score (validation data picks one;
    # 0 turns it off). Only tuned when the validation data has ``min_oos_examples`` out-of-scope
    # examples: on a small hold-out the extra parameter overfits (it cost the bundled data 2
    # points of held-out accuracy in 5 random splits), and the share then stays unused.
    unknown_powers: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    min_oos_examples: int = 50


class IntentClassifier:
    """Sparse features + LinearSVC with calibrated (temperature-scaled) confidences.

    The fallback decision uses ``fallback_scores``: the top probability times the share of the
    message's words (IDF-weighted) seen in training, raised to ``unknown_power``. Out-of-scope
    messages use words the model has never seen far more often than in-scope ones; the ranking
    itself stays the calibrated softmax.
    """

    unknown_power = 0.0  # class default: model files from before this attribute load as before

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()
        self.labels: list[str] = []
        self.temperature = 1.0
        self.threshold = 0.0
        self._word_vocab: dict[str, int] = {}
        self._char_vocab: dict[str, int] = {}
        self._word_idf: FloatArray = np.zeros(0)
        self._char_idf: FloatArray = np.zeros(0)
        self._weights: npt.NDArray[np.float32] | None = None
        self._bias: npt.NDArray[np.float32] | None = None

    def _fit_core(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        # scikit-learn is only needed for training: parsing uses the arrays kept below.
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        cfg = self.config
        word = TfidfVectorizer(
            preprocessor=normalize, ngram_range=cfg.word_ngrams, sublinear_tf=True,
            token_pattern=_WORD_RE.pattern, dtype=np.float32,
        )  # fmt: skip
        char = TfidfVectorizer(
            preprocessor=normalize, analyzer="char_wb", ngram_range=cfg.char_ngrams,
            sublinear_tf=True, min_df=2 if len(texts) > 2000 else 1, dtype=np.float32,
        )  # fmt: skip
        x = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
        svm = LinearSVC(C=cfg.c, class_weight="balanced")
        svm.fit(x, list(labels))
        self.labels = [str(c) for c in svm.classes_]
        self._word_vocab = {str(k): int(v) for k, v in word.vocabulary_.items()}
        self._char_vocab = {str(k): int(v) for k, v in char.vocabulary_.items()}
        self._word_idf = np.asarray(word.idf_, dtype=np.float64)
        self._char_idf = np.asarray(char.idf_, dtype=np.float64)
        coef = np.asarray(svm.coef_, dtype=np.float32)
        bias = np.asarray(svm.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # binary problem: sklearn keeps one row
            coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
        self._weights = np.ascontiguousarray(coef.T)
        self._bias = bias

    def word_features(self, text: str) -> list[str]:
        """Word n-grams, as ``TfidfVectorizer(analyzer="word")`` builds them."""
        tokens = _WORD_RE.findall(normalize(text))
        lo, hi = self.config.word_ngrams
        grams = list(tokens) if lo == 1 else []
        for n in range(max(lo, 2), hi + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def char_features(self, text: str) -> list[str]:
        """Character n-grams inside word boundaries, as ``analyzer="char_wb"`` builds them."""
        lo, hi = self.config.char_ngrams
        grams: list[str] = []
        for w in _SPACES.sub(" ", normalize(text)).split():
            grams += _word_char_grams(w, lo, hi)
        return grams

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val: tuple[Sequence[str], Sequence[str]] | None = None,
    ) -> IntentClassifier:
        """Train; tune temperature and threshold on ``val`` or on a hold-out of the data."""
        if len(set(labels)) < 2:
            raise ValueError("need at least two intents to train a classifier")
        if val is None:
            # Stratify when every intent can spare an example; tiny data gets a plain split.
            strat = list(labels) if min(Counter(labels).values()) >= 2 else None
            n_val = max(int(len(texts) * self.config.holdout), len(set(labels)))
            if strat is None or n_val >= len(texts) - len(set(labels)):
                n_val = max(1, len(texts) // 5)
                strat = None
            from sklearn.model_selection import train_test_split

            tr_x, va_x, tr_y, va_y = train_test_split(
                list(texts), list(labels), test_size=n_val, random_state=0, stratify=strat
            )
            self._fit_core(tr_x, tr_y)
            self._tune(va_x, va_y)
            self._fit_core(texts, labels)
        else:
            self._fit_core(texts, labels)
            self._tune(val[0], val[1])
        return self

    def decision(self, texts: Sequence[str]) -> FloatArray:
        """Raw SVM scores, one row per text, columns in ``labels`` order.

        Features are computed here rather than with ``TfidfVectorizer.transform``: the result is
        the same, but sklearn's per-call input validation costs milliseconds per message, and a
        model that holds only arrays loads without importing scikit-learn.
        """
        if self._weights is None or self._bias is None:
            raise RuntimeError("classifier is not trained")
        weights, bias = self._weights, self._bias
        offset = len(self._word_vocab)
        out = np.empty((len(texts), len(bias)), dtype=np.float64)
        for r, text in enumerate(texts):
            wi, wv = _tfidf(self.word_features(text), self._word_vocab, self._word_idf)
            ci, cv = _tfidf(self.char_features(text), self._char_vocab, self._char_idf)
            ids = np.concatenate([wi, ci + offset])
            vals = np.concatenate([wv, cv]).astype(np.float32)
            out[r] = vals @ weights[ids] + bias
        return out

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated probabilities (rows sum to 1)."""
        return _softmax(self.decision(texts) / self.temperature)

    def known_share(self, text: str, unseen: float | None = None) -> float:
        """IDF-weighted share of the text's words that occur in the training data (1.0 for a
        text without words); an unseen word weighs ``unseen``, by default as much as the rarest
        training word."""
        idf, vocab = self._word_idf, self._word_vocab
        if not len(idf):
            return 1.0
        if unseen is None:
            unseen = float(idf.max())
        known = total = 0.0
        for tok in _WORD_RE.findall(normalize(text)):
            i = vocab.get(tok)
            if i is None:
                total += unseen
            else:
                known += float(idf[i])
                total += float(idf[i])
        return known / total if total else 1.0

    def fallback_scores(self, texts: Sequence[str], proba: FloatArray) -> FloatArray:
        """Scores compared with the threshold: top probability * known_share ** unknown_power."""
        top: FloatArray = proba.max(axis=1)
        if not self.unknown_power:
            return top
        unseen = float(self._word_idf.max()) if len(self._word_idf) else 1.0
        share = np.array([self.known_share(t, unseen) for t in texts], dtype=np.float64)
        out: FloatArray = top * share**self.unknown_power
        return out

    def _tune(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        scores = self.decision(texts)
        idx = {lab: i for i, lab in enumerate(self.labels)}
        known = np.array([lab in idx for lab in labels])
        y = np.array([idx.get(lab, -1) for lab in labels])
        best_t, best_nll = 1.0, np.inf
        for t in np.geomspace(0.02, 5.0, 40):
            p = _softmax(scores[known] / t)
            nll = -np.mean(np.log(p[np.arange(int(known.sum())), y[known]] + 1e-12))
            if nll < best_nll:
                best_t, best_nll = float(t), float(nll)
        self.temperature = best_t
        proba = _softmax(scores / best_t)
        oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in idx for lab in labels])
        cfg = self.config
        enough = int(oos.sum()) >= cfg.min_oos_examples and (~oos).any()
        powers = cfg.unknown_powers if enough else (0.0,)
        best_p, best_score = 0.0, -np.inf
        for power in powers or (0.0,):  # ties keep the smaller exponent
            self.unknown_power = float(power)
            t, score = self._pick_threshold(self.fallback_scores(texts, proba), proba, labels)
            if score > best_score + 1e-9:
                best_p, best_score, self.threshold = float(power), score, t
        self.unknown_power = best_p

    def _pick_threshold(
        self, conf: FloatArray, proba: FloatArray, labels: Sequence[str]
    ) -> tuple[float, float]:
        """Threshold on ``conf`` (fallback scores) and the validation objective it reaches."""
        pred = [self.labels[i] for i in proba.argmax(axis=1)]
        oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in self.labels for lab in labels])
        correct = np.array([p == lab for p, lab in zip(pred, labels, strict=True)])
        candidates = np.unique(np.concatenate([[0.0], np.round(conf, 3)]))
        if oos.any() and (~oos).any():
            # Default: expected accuracy on traffic where a share ``oos_weight`` is out of scope;
            # every step up the threshold trades in-scope hits for out-of-scope catches. With
            # ``min_oos_recall``: the best in-scope accuracy that keeps that recall.
            oos_pred = np.array([p == OUT_OF_SCOPE_INTENT for p in pred])
            w, floor = self.config.oos_weight, self.config.min_oos_recall
            best, best_score = 0.0, -np.inf
            for t in candidates:
                fallback = conf < t
                in_acc = float(np.mean((correct & ~fallback)[~oos]))
                oos_rec = float(np.mean((fallback | oos_pred)[oos]))
                if floor is None:
                    score = (1 - w) * in_acc + w * oos_rec
                else:
                    score = in_acc if oos_rec >= floor else oos_rec - 1.0
                if score > best_score + 1e-9:
                    best, best_score = float(t), score
            return best, best_score
        base = float(np.mean(correct))
        loss = self.config.max_fallback_loss
        ok = [t for t in candidates if np.mean(correct & (conf >= t)) >= base - loss]
        return (float(max(ok)) if ok else 0.0), 0.0


@functools.lru_cache(maxsize=65536)
def _word_char_grams(word: str, lo: int, hi: int) -> tuple[str, ...]:
    # Words repeat across messages: caching their n-grams halves the feature cost.
    w = f" {word} "
    grams: list[str] = []
    for n in range(lo, hi + 1):
        if n >= len(w):
            grams.append(w)
            break
        grams += [w[i : i + n] for i in range(len(w) - n + 1)]
    return tuple(grams)


def _tfidf(
    grams: list[str], vocab: dict[str, int], idf: FloatArray
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Sublinear TF * IDF, L2-normalised: what the fitted ``TfidfVectorizer`` computes."""
    counts = Counter(grams)
    ids = np.fromiter(map(vocab.get, counts, repeat(-1)), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    known = ids >= 0
    ids = ids[known]
    vals = (1.0 + np.log(tf[known])) * idf[ids]
    norm = float(np.sqrt(vals @ vals))
    return ids, (vals / norm if norm else vals)


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out
