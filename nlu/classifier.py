"""Intent classifier: word n-gram, character n-gram and word-pair TF-IDF, a linear SVM,
temperature-scaled softmax.

Temperature, the fallback threshold and the unknown-word exponent are fitted on validation data:
the caller's, or a hold-out of the training data chosen by each text's hash when there is none
(`nlu.holdout`; never the test data).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from nlu import background
from nlu.cascade import Cascade, build_cascade, fit_both
from nlu.dense import DenseFeatures, NearestExample, build_table
from nlu.grams import Runtime, add_block, fit_sparse, pair_grams, word_char_grams, word_grams
from nlu.holdout import holdout_split
from nlu.intent_config import ClassifierConfig as ClassifierConfig  # re-exported
from nlu.linear import LinearFit, fit_linear
from nlu.thresholds import choose_threshold as choose_threshold  # re-exported (benchmarks)
from nlu.thresholds import sigmoid, softmax_row, tune_fallback
from nlu.types import OUT_OF_SCOPE_INTENT
from nlu.vectors import WordVectors

if TYPE_CHECKING:
    from nlu.grams import SparseVocab

_T = TypeVar("_T")
_DIGITS = re.compile(r"\d")
_APOS = re.compile(r"[’'`ʼ]")
FloatArray = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]
_WORD_RE = re.compile(r"(?u)\b\w+\b")
_SPACES = re.compile(r"\s\s+")
# Raw SVM scores sit within about [-2, 2]; this spreads their sigmoid over (0, 1).
SCORE_SCALE = 2.0


def normalize(text: str) -> str:
    """Lowercase, unify apostrophes and map digits to 0 (numbers carry no intent)."""
    return _DIGITS.sub("0", _APOS.sub("'", text.lower()))


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
    _dense: DenseFeatures | None = None
    _dense_w: npt.NDArray[np.float32] | None = None
    _nearest: NearestExample | None = None
    sim_weight = 0.0
    cascade: Cascade | None = None
    # While `fit` tunes: the dense rows and scores of the validation texts, which the
    # temperature, threshold, gate and offset all read (cleared by each fit of the SVM).
    _memo: dict[tuple[str, tuple[str, ...]], Any] | None = None

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
        self._runtime: Runtime | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_runtime"] = None  # lookup tables and caches, rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._runtime = None

    def _fit_core(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        table: WordVectors | None = None,
        sparse_fit: tuple[list[Any], SparseVocab] | None = None,
        later: list[Callable[[], None]] | None = None,
        warm: Callable[[IntentClassifier, int], tuple[Matrix, Matrix]] | None = None,
    ) -> tuple[list[Any], SparseVocab]:
        """Fit features and SVM; return the TF-IDF fit (``sparse_fit`` reuses one). With
        ``later``, the SVM is fitted in a child process on the second core (`nlu.background`)
        and the step that stores its weights is appended to ``later``, for the caller to run
        when its own work beside it is done. ``warm``: a start for the SVM (`nlu.incremental`)."""
        from scipy import sparse

        cfg = self.config
        if sparse_fit is None:
            sparse_fit = fit_sparse(texts, cfg, normalize, _WORD_RE.pattern, self.pair_features)
        blocks, fitted = list(sparse_fit[0]), sparse_fit[1]
        self._word_vocab, self._char_vocab = fitted.word_vocab, fitted.char_vocab
        self._word_idf, self._char_idf = fitted.word_idf, fitted.char_idf
        self._pair_vocab, self._pair_idf = fitted.pair_vocab, fitted.pair_idf
        self._pair_window = fitted.pair_window
        n_sparse = sum(b.shape[1] for b in blocks)
        self._dense, self._nearest = None, None
        if cfg.dense.source != "none":
            self._dense = DenseFeatures(cfg.dense.source, table, cfg.dense.cache_dir)
            rows = self._dense.matrix(texts)
            blocks.append(sparse.csr_matrix(rows * np.float32(cfg.dense.weight)))
            inside = [i for i, lab in enumerate(labels) if lab != OUT_OF_SCOPE_INTENT]
            self._nearest = NearestExample(rows[inside], [labels[i] for i in inside])
        x, y = sparse.hstack(blocks, format="csr"), list(labels)

        def fit() -> LinearFit:
            return fit_linear(x, y, cfg.c, None if warm is None else warm(self, n_sparse))

        if later is None:
            self._store(fit(), n_sparse)
        else:
            job = background.start(fit)
            later.append(lambda: self._store(job.result(), n_sparse))
        return sparse_fit

    def _store(self, fit: LinearFit, n_sparse: int) -> None:
        """Keep an SVM fit's weights (columns: the sparse blocks, then the dense block)."""
        cfg = self.config
        self.labels, coef, bias = fit
        # The pair and dense blocks were scaled for training; parsing folds the scales into
        # their weights.
        coef[:, len(self._word_vocab) + len(self._char_vocab) : n_sparse] *= np.float32(
            cfg.pair_weight
        )
        coef[:, n_sparse:] *= np.float32(cfg.dense.weight)
        self._dense_w = np.ascontiguousarray(coef[:, n_sparse:].T) if self._dense else None
        self._weights = np.ascontiguousarray(coef[:, :n_sparse].T)
        self._bias = bias
        self._runtime = None
        self._memo = None if self._memo is None else {}

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
        table: WordVectors | None = None,
    ) -> IntentClassifier:
        """Train; tune temperature and threshold on ``val`` or on a hold-out of the data.

        ``table``: the static word vectors of ``texts`` (`nlu.dense.build_table`), when the
        caller has them already; built here otherwise."""
        if len(set(labels)) < 2:
            raise ValueError("need at least two intents to train a classifier")
        dense = self.config.dense.source != "none"
        if dense and table is None:
            table = self._table(texts)
        full = self._encoder_model()
        for clf in (self, full):
            if clf is not None:
                clf._memo = {}
        if val is None:
            # by each text's hash: added examples never move an old one (`nlu.holdout`)
            tr_i, va_i = holdout_split(texts, labels, self.config.holdout)
            tr_x, tr_y = [texts[i] for i in tr_i], [labels[i] for i in tr_i]
            va_x, va_y = [texts[i] for i in va_i], [labels[i] for i in va_i]
            # the hold-out's words stay out of the tuning table, as new messages' words do
            tr_table = self._table(tr_x) if dense else None
            fit_both(self, full, tr_x, tr_y, tr_table)
            self._tune(va_x, va_y)
            self.cascade = build_cascade(self, full, (va_x, va_y))
            # a gate of 0 sends no message to the encoder model: it keeps the hold-out's fit
            used = full if self.cascade is not None and self.cascade.gate > 0 else None
            fit_both(self, used, texts, labels, table)
        else:
            fit_both(self, full, texts, labels, table)
            self._tune(val[0], val[1])
            self.cascade = build_cascade(self, full, val)
        self._memo = None
        if full is not None:
            full._memo = None
        return self

    def _encoder_model(self) -> IntentClassifier | None:
        """The cascade's encoder model, untrained (None without a cascade)."""
        cfg = self.config
        if not cfg.cascade.enabled or cfg.dense.source != "static":
            return None
        full_cfg = dataclasses.replace(
            cfg,
            dense=dataclasses.replace(cfg.dense, source="encoder", weight=cfg.dense.encoder_weight),
            cascade=dataclasses.replace(cfg.cascade, enabled=False),
        )
        return IntentClassifier(full_cfg)

    def _table(self, texts: Sequence[str]) -> WordVectors | None:
        return (
            build_table(texts, self.config.dense) if self.config.dense.source == "static" else None
        )

    def dense_rows(self, texts: Sequence[str]) -> Matrix | None:
        """The texts' dense vectors (None for a model without dense features)."""
        dense = self._dense
        return None if dense is None else self._memoised("rows", texts, lambda: dense.matrix(texts))

    def _memoised(self, kind: str, texts: Sequence[str], compute: Callable[[], _T]) -> _T:
        if self._memo is None:
            return compute()
        key = (kind, tuple(texts))
        if key not in self._memo:
            self._memo[key] = compute()
        found: _T = self._memo[key]
        return found

    def decision(self, texts: Sequence[str], dense: Matrix | None = None) -> FloatArray:
        """Raw SVM scores, one row per text, columns in ``labels`` order (``dense``: the texts'
        `dense_rows`, when already computed)."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        rows = self.dense_rows(texts) if dense is None else dense
        if rows is None:
            return self._memoised("scores", texts, lambda: np.vstack(
                [self._scores(t, None)[0] for t in texts]))  # fmt: skip
        return self._memoised("scores", texts, lambda: np.vstack(
            [self._scores(t, rows[i])[0] for i, t in enumerate(texts)]))  # fmt: skip

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated probabilities (rows sum to 1)."""
        scores = self.decision(texts)
        return (
            np.vstack([softmax_row(row / self.temperature) for row in scores]) if texts else scores
        )

    def score_one(self, text: str) -> tuple[FloatArray, float]:
        """One message: calibrated probabilities and the fallback score (see ``fallback_scores``).

        The path every parse takes, batch or not, so both give the same numbers. The cascade's
        encoder runs here, on the caller's thread: async callers use `score_cheap` and hand
        `Cascade.score` to an executor when `Cascade.needs_encoder`.
        """
        proba, score = self.score_cheap(text)
        if self.cascade is None or not self.cascade.needs_encoder(proba):
            return proba, score
        return self.cascade.score_text(text, self.threshold)

    def score_cheap(self, text: str) -> tuple[FloatArray, float]:
        """`score_one` without the cascade: the model's own features only."""
        vec = self._dense.one(text) if self._dense is not None else None
        return self.score_with_vector(text, vec)

    def score_with_vector(self, text: str, vec: Matrix | None) -> tuple[FloatArray, float]:
        """Probabilities and fallback score given the message's dense vector."""
        scores, tokens = self._scores(text, vec)
        proba = softmax_row(scores / self.temperature)
        if self.fallback_base == "score":
            top = sigmoid(SCORE_SCALE * float(scores.max()))
        else:
            top = float(proba.max())
        if self.unknown_power:
            rt = self._get_runtime()
            top *= self._known_share(tokens, rt.unseen) ** self.unknown_power
        if self.sim_weight and vec is not None and self._nearest is not None:
            sim = self._nearest.similarity(vec, self.labels[int(scores.argmax())])
            top = (1.0 - self.sim_weight) * top + self.sim_weight * sim
        return proba, top

    def _scores(self, text: str, vec: Matrix | None) -> tuple[FloatArray, list[str]]:
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
        row = rt.bias if not ids else np.array(vals, dtype=np.float32) @ rt.weights[ids] + rt.bias
        if vec is not None and self._dense_w is not None:
            row = row + vec @ self._dense_w
        return row.astype(np.float64), tokens

    def warm_up(self) -> None:
        """Build the parse-time lookup tables now rather than on the first message."""
        self._get_runtime()

    def _get_runtime(self) -> Runtime:
        if self._runtime is None:
            if self._weights is None or self._bias is None:
                raise RuntimeError("classifier is not trained")
            self._runtime = Runtime(self, self._weights, self._bias)
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
        self,
        texts: Sequence[str],
        proba: FloatArray,
        scores: FloatArray | None = None,
        sims: FloatArray | None = None,
    ) -> FloatArray:
        """Scores compared with the threshold: the top probability (or the sigmoid of the top
        raw score, ``scores`` if given) * known_share ** unknown_power, mixed with the dense
        similarity to the top intent's nearest training example (``sims`` if given) by
        ``sim_weight``."""
        top = self._base_scores(texts, proba, scores)
        if not self.sim_weight or self._nearest is None:
            return top
        if sims is None:
            rows = self.dense_rows(texts)
            assert rows is not None
            sims = self._nearest.similarities(rows, [self.labels[i] for i in proba.argmax(1)])
        out: FloatArray = (1.0 - self.sim_weight) * top + self.sim_weight * sims
        return out

    def _base_scores(
        self, texts: Sequence[str], proba: FloatArray, scores: FloatArray | None
    ) -> FloatArray:
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
        tune_fallback(self, texts, labels)  # temperature, threshold and fallback parameters
