"""Intent classifier: word n-gram, character n-gram and word-pair TF-IDF, a linear SVM,
temperature-scaled softmax.

Temperature, the fallback threshold and the unknown-word exponent are fitted on validation data:
the caller's, or a stratified hold-out of the training data when there is none (never the test
data).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.grams import add_block, pair_grams, word_char_grams, word_grams
from nlu.thresholds import choose_threshold, fit_temperature, sigmoid, softmax, softmax_row
from nlu.types import OUT_OF_SCOPE_INTENT

_DIGITS = re.compile(r"\d")
_APOS = re.compile(r"[’'`ʼ]")
FloatArray = npt.NDArray[np.float64]
_WORD_RE = re.compile(r"(?u)\b\w+\b")
_SPACES = re.compile(r"\s\s+")
# Raw SVM scores sit within about [-2, 2]; this spreads their sigmoid over (0, 1).
SCORE_SCALE = 2.0


def normalize(text: str) -> str:
    """Lowercase, unify apostrophes and map digits to 0 (numbers carry no intent)."""
    return _DIGITS.sub("0", _APOS.sub("'", text.lower()))


@dataclass
class ClassifierConfig:
    """Hyper-parameters; the defaults were chosen on BANKING77/CLINC150 validation splits."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    # Word pairs 2..pair_window tokens apart ("card~arrived" in "my card hasn't arrived"): the
    # bigrams' reach across the filler words between two content words (0: off). Pairs seen in
    # one training example only are dropped. Only used from ``pair_min_examples`` training
    # examples on: on the bundled data (1,659 short messages) they gained nothing in
    # cross-validation and made function-word pairs confident ("my name is john smith" became
    # a complaint at 0.84); on BANKING77/CLINC150 (8,500-15,000 examples) they gained 0.3-0.8.
    pair_window: int = 20
    pair_weight: float = 1.0
    pair_min_examples: int = 5000
    c: float = 1.0
    holdout: float = 0.15
    max_fallback_loss: float = 0.01  # in-scope accuracy we accept to lose to the threshold
    oos_weight: float = 0.25  # assumed share of out-of-scope traffic when tuning the threshold
    # With out-of-scope validation examples and ``min_oos_recall`` set, the threshold maximises
    # in-scope accuracy subject to that out-of-scope recall instead of the ``oos_weight`` rule.
    min_oos_recall: float | None = None
    # ``min_oos_recall`` must hold this many standard errors below the validation recall (its
    # lower Wilson bound): with ~100 out-of-scope validation messages the bare figure is a coin
    # flip on new data (``nlu.thresholds.choose_threshold``).
    oos_recall_z: float = 1.0
    # Exponents tried for the known-word share in the fallback score (validation data picks one;
    # 0 turns it off). Only tuned when the validation data has ``min_oos_examples`` out-of-scope
    # examples: on a small hold-out the extra parameter overfits (it cost the bundled data 2
    # points of held-out accuracy in 5 random splits), and the share then stays unused.
    unknown_powers: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    min_oos_examples: int = 50
    # What the fallback score starts from, tried on the same validation data as the exponent:
    # "probability" (the calibrated top probability) or "score" (the top raw SVM score through
    # a sigmoid: "max logit", which keeps how far a message is from every intent, where the
    # softmax only keeps how far the top intent is ahead of the others). On CLINC150's val split
    # the raw score reached 0.7 out-of-scope recall with 0.3 points more in-scope accuracy.
    fallback_bases: tuple[str, ...] = ("probability", "score")


class IntentClassifier:
    """Sparse features + LinearSVC with calibrated (temperature-scaled) confidences.

    The fallback decision uses ``fallback_scores``: the top probability (or, when validation
    data chose ``fallback_base = "score"``, the sigmoid of the top raw score) times the share
    of the message's words (IDF-weighted) seen in training, raised to ``unknown_power``.
    Out-of-scope messages use words the model has never seen far more often than in-scope
    ones; the ranking itself stays the calibrated softmax.
    """

    # Class defaults: model files from before these attributes load and parse as before.
    unknown_power = 0.0
    fallback_base = "probability"
    _pair_vocab: dict[str, int] = {}  # noqa: RUF012 (read-only default, replaced by fit)
    _pair_idf: FloatArray = np.zeros(0)
    _pair_window = 0

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
        self._runtime: _Runtime | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_runtime"] = None  # lookup tables and caches, rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._runtime = None

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
        blocks = [word.fit_transform(texts), char.fit_transform(texts)]
        self._pair_window, self._pair_vocab, self._pair_idf = 0, {}, np.zeros(0)
        if cfg.pair_window >= 2 and len(texts) >= cfg.pair_min_examples:
            pairs = TfidfVectorizer(
                analyzer=self.pair_features, sublinear_tf=True, min_df=2, dtype=np.float32
            )
            try:
                blocks.append(pairs.fit_transform(texts) * np.float32(cfg.pair_weight))
                self._pair_vocab = {str(k): int(v) for k, v in pairs.vocabulary_.items()}
                self._pair_idf = np.asarray(pairs.idf_, dtype=np.float64)
                self._pair_window = cfg.pair_window
            except ValueError:  # no pair occurs twice: no pair features
                pass
        svm = LinearSVC(C=cfg.c, class_weight="balanced", random_state=0)  # reproducible fits
        svm.fit(sparse.hstack(blocks, format="csr"), list(labels))
        self.labels = [str(c) for c in svm.classes_]
        self._word_vocab = {str(k): int(v) for k, v in word.vocabulary_.items()}
        self._char_vocab = {str(k): int(v) for k, v in char.vocabulary_.items()}
        self._word_idf = np.asarray(word.idf_, dtype=np.float64)
        self._char_idf = np.asarray(char.idf_, dtype=np.float64)
        coef = np.asarray(svm.coef_, dtype=np.float32)
        bias = np.asarray(svm.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # binary problem: sklearn keeps one row
            coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
        # The pair block was scaled for training; parsing folds the scale into its weights.
        coef[:, len(self._word_vocab) + len(self._char_vocab) :] *= np.float32(cfg.pair_weight)
        self._weights = np.ascontiguousarray(coef.T)
        self._bias = bias
        self._runtime = None

    def word_features(self, text: str) -> list[str]:
        """Word n-grams, as ``TfidfVectorizer(analyzer="word")`` builds them."""
        return word_grams(_WORD_RE.findall(normalize(text)), *self.config.word_ngrams)

    def pair_features(self, text: str) -> list[str]:
        """Word pairs 2..``pair_window`` tokens apart, as ``"first~second"``."""
        return pair_grams(_WORD_RE.findall(normalize(text)), self.config.pair_window)

    def char_features(self, text: str) -> list[str]:
        """Character n-grams inside word boundaries, as ``analyzer="char_wb"`` builds them."""
        lo, hi = self.config.char_ngrams
        grams: list[str] = []
        for w in _SPACES.sub(" ", normalize(text)).split():
            grams += word_char_grams(w, lo, hi)
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
        """Raw SVM scores, one row per text, columns in ``labels`` order."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        return np.vstack([self._scores(t)[0] for t in texts])

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated probabilities (rows sum to 1)."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        return np.vstack([softmax_row(self._scores(t)[0] / self.temperature) for t in texts])

    def score_one(self, text: str) -> tuple[FloatArray, float]:
        """One message: calibrated probabilities and the fallback score (see ``fallback_scores``).

        The path every parse takes, batch or not, so both give the same numbers.
        """
        scores, tokens = self._scores(text)
        proba = softmax_row(scores / self.temperature)
        if self.fallback_base == "score":
            top = sigmoid(SCORE_SCALE * float(scores.max()))
        else:
            top = float(proba.max())
        if not self.unknown_power:
            return proba, top
        rt = self._get_runtime()
        return proba, top * self._known_share(tokens, rt.unseen) ** self.unknown_power

    def _scores(self, text: str) -> tuple[FloatArray, list[str]]:
        """Raw scores for one text, and its word tokens.

        Features are computed here rather than with ``TfidfVectorizer.transform``: the result is
        the same (sublinear TF * IDF, each block L2-normalised), but sklearn's per-call input
        validation costs milliseconds per message, and a model that holds only arrays loads
        without importing scikit-learn. Per word, the character n-gram ids are cached.
        """
        rt = self._get_runtime()
        norm = normalize(text)
        tokens = _WORD_RE.findall(norm)
        ids: list[int] = []
        vals: list[float] = []
        lo, hi = self.config.word_ngrams
        wv = self._word_vocab
        add_block(ids, vals, [wv.get(g) for g in word_grams(tokens, lo, hi)], rt.word_idf, 0)
        char_ids: list[int] = []
        for w in norm.split():
            found = rt.char_cache.get(w)
            if found is None:
                found = rt.char_ids(w)
            char_ids += found
        add_block(ids, vals, char_ids, rt.char_idf_global, 0)
        if rt.pair_idf:
            pv = self._pair_vocab
            pairs = [pv.get(g) for g in pair_grams(tokens, self._pair_window)]
            add_block(ids, vals, pairs, rt.pair_idf, rt.pair_offset)
        if not ids:
            return rt.bias64.copy(), tokens
        row = np.array(vals, dtype=np.float32) @ rt.weights[ids] + rt.bias
        return row.astype(np.float64), tokens

    def warm_up(self) -> None:
        """Build the parse-time lookup tables now rather than on the first message."""
        self._get_runtime()

    def _get_runtime(self) -> _Runtime:
        if self._runtime is None:
            if self._weights is None or self._bias is None:
                raise RuntimeError("classifier is not trained")
            self._runtime = _Runtime(self, self._weights, self._bias)
        return self._runtime

    def known_share(self, text: str, unseen: float | None = None) -> float:
        """IDF-weighted share of the text's words that occur in the training data (1.0 for a
        text without words); an unseen word weighs ``unseen``, by default as much as the rarest
        training word."""
        if not len(self._word_idf):
            return 1.0
        if unseen is None:
            unseen = float(self._word_idf.max())
        return self._known_share(_WORD_RE.findall(normalize(text)), unseen)

    def _known_share(self, tokens: list[str], unseen: float) -> float:
        idf, vocab = self._word_idf, self._word_vocab
        known = total = 0.0
        for tok in tokens:
            i = vocab.get(tok)
            if i is None:
                total += unseen
            else:
                known += float(idf[i])
                total += float(idf[i])
        return known / total if total else 1.0

    def fallback_scores(
        self, texts: Sequence[str], proba: FloatArray, scores: FloatArray | None = None
    ) -> FloatArray:
        """Scores compared with the threshold: the top probability (or the sigmoid of the top
        raw score, ``scores`` if given) * known_share ** unknown_power."""
        if self.fallback_base == "score":
            raw = self.decision(texts) if scores is None else scores
            top: FloatArray = 1.0 / (1.0 + np.exp(-SCORE_SCALE * raw.max(axis=1)))
        else:
            top = proba.max(axis=1)
        if not self.unknown_power:
            return top
        unseen = float(self._word_idf.max()) if len(self._word_idf) else 1.0
        share = [self.known_share(t, unseen) for t in texts]
        power = self.unknown_power
        return np.array([float(p) * sh**power for p, sh in zip(top, share, strict=True)])

    def _tune(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        scores = self.decision(texts)
        idx = {lab: i for i, lab in enumerate(self.labels)}
        known = np.array([lab in idx for lab in labels])
        y = np.array([idx.get(lab, -1) for lab in labels])
        best_t = fit_temperature(scores, known, y)
        self.temperature = best_t
        proba = softmax(scores / best_t)
        oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in idx for lab in labels])
        cfg = self.config
        enough = int(oos.sum()) >= cfg.min_oos_examples and (~oos).any()
        powers = cfg.unknown_powers if enough else (0.0,)
        bases = cfg.fallback_bases if enough else ("probability",)
        best_b, best_p, best_score = "probability", 0.0, -np.inf
        for base in bases or ("probability",):  # ties keep the earlier base, smaller exponent
            self.fallback_base = base
            for power in powers or (0.0,):
                self.unknown_power = float(power)
                conf = self.fallback_scores(texts, proba, scores)
                t, score = self._pick_threshold(conf, proba, labels)
                if score > best_score + 1e-9:
                    best_b, best_p, best_score, self.threshold = base, float(power), score, t
        self.fallback_base, self.unknown_power = best_b, best_p

    def _pick_threshold(
        self, conf: FloatArray, proba: FloatArray, labels: Sequence[str]
    ) -> tuple[float, float]:
        """Threshold on ``conf`` (fallback scores) and the validation objective it reaches."""
        pred = [self.labels[i] for i in proba.argmax(axis=1)]
        oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in self.labels for lab in labels])
        correct = np.array([p == lab for p, lab in zip(pred, labels, strict=True)])
        oos_pred = np.array([p == OUT_OF_SCOPE_INTENT for p in pred])
        cfg = self.config
        return choose_threshold(
            conf, correct, oos, oos_pred, oos_weight=cfg.oos_weight,
            min_oos_recall=cfg.min_oos_recall, max_fallback_loss=cfg.max_fallback_loss,
            recall_z=cfg.oos_recall_z,
        )  # fmt: skip


class _Runtime:
    """Per-process lookup tables for parsing: IDF as Python floats, block offsets, and the
    character n-gram ids of words seen before (bounded)."""

    CACHE_LIMIT = 200_000

    def __init__(
        self,
        clf: IntentClassifier,
        weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
    ) -> None:
        self.weights, self.bias = weights, bias
        self.bias64 = bias.astype(np.float64)
        self.word_idf: list[float] = clf._word_idf.tolist()
        self.char_idf: list[float] = clf._char_idf.tolist()
        self.pair_idf: list[float] = clf._pair_idf.tolist() if clf._pair_window else []
        self.char_offset = len(clf._word_vocab)
        # Character ids are cached with the block offset applied; index their IDF the same way.
        self.char_idf_global: list[float] = [0.0] * self.char_offset + self.char_idf
        self.pair_offset = self.char_offset + len(clf._char_vocab)
        self.unseen = float(clf._word_idf.max()) if len(clf._word_idf) else 1.0
        self._char_vocab = clf._char_vocab
        self._char_ngrams = clf.config.char_ngrams
        self.char_cache: dict[str, list[int]] = {}

    def char_ids(self, word: str) -> list[int]:
        """Vocabulary ids of the word's known character n-grams (with repeats), cached."""
        vocab, off = self._char_vocab, self.char_offset
        grams = word_char_grams(word, *self._char_ngrams)
        found = [i + off for i in map(vocab.get, grams) if i is not None]
        if len(self.char_cache) >= self.CACHE_LIMIT:
            self.char_cache.clear()
        self.char_cache[word] = found
        return found
