"""The cascade: every message is scored by the cheap classifier (TF-IDF + the static word-vector
table, well under a millisecond); only when its top probability is under ``gate`` does the
sentence encoder run (about 20 ms of CPU) and a second classifier, trained on the same TF-IDF
blocks plus the encoder's sentence vector, answer instead.

The gate is chosen on the same validation data as the thresholds: the lowest encoder share whose
validation accuracy is within ``tolerance`` of the encoder model's own, else the best
validation accuracy within ``max_share`` of messages (the CPU budget: at ~22 ms per encoding,
0.12 is ~3 ms a message on average).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nlu.thresholds import pick_threshold, softmax
from nlu.types import OUT_OF_SCOPE_INTENT

FloatArray = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]


class IntentClassifier(Protocol):
    """What the cascade needs of `nlu.classifier.IntentClassifier` (named here rather than
    imported: the classifier imports this module)."""

    labels: list[str]
    temperature: float
    threshold: float

    def dense_rows(self, texts: Sequence[str]) -> Matrix | None: ...

    def decision(self, texts: Sequence[str], dense: Matrix | None = None) -> FloatArray: ...

    def fallback_scores(
        self, texts: Sequence[str], proba: FloatArray, scores: FloatArray | None = None
    ) -> FloatArray: ...

    def score_with_vector(self, text: str, vec: Matrix | None) -> tuple[FloatArray, float]: ...

    def _tune(self, texts: Sequence[str], labels: Sequence[str]) -> None: ...

    def _fit_core(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        table: Any = None,
        sparse_fit: Any = None,
        later: list[Callable[[], None]] | None = None,
    ) -> Any: ...


def fit_both(
    cheap: IntentClassifier,
    full: IntentClassifier | None,
    texts: Sequence[str],
    labels: Sequence[str],
    table: Any,
) -> None:
    """Fit the cheap model (``table``: its word vectors), then the encoder model (``full``) on
    the TF-IDF blocks the cheap model's fit returned (the same texts and sparse settings:
    counted once). With both, the cheap model's SVM runs in a child process on the second core
    while this one builds and fits the encoder model's (`nlu.background`): the same weights,
    bit for bit, as one after the other."""
    if full is None:
        cheap._fit_core(texts, labels, table)
        return
    later: list[Callable[[], None]] = []
    shared = cheap._fit_core(texts, labels, table, later=later)
    full._fit_core(texts, labels, sparse_fit=shared)
    for step in later:
        step()


@dataclass
class CascadeConfig:
    """Whether the cascade is trained, and the limits its gate is chosen within."""

    enabled: bool = True
    # ~0.4 ms cheap + 12% of ~22 ms encoder: the 3 ms mean CPU budget of a parse
    max_share: float = 0.12
    tolerance: float = 0.0


def _outcome(
    clf: IntentClassifier, texts: Sequence[str], labels: Sequence[str]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Per validation message: the top probability and whether the answer (fallback
    included) is right."""
    rows = clf.dense_rows(texts)
    scores = clf.decision(texts, rows)
    proba = softmax(scores / clf.temperature)
    conf = clf.fallback_scores(texts, proba, scores)
    pred = [clf.labels[i] for i in proba.argmax(1)]
    right = []
    for p, c, lab in zip(pred, conf, labels, strict=True):
        out = lab == OUT_OF_SCOPE_INTENT or lab not in clf.labels
        falls = c < clf.threshold or p == OUT_OF_SCOPE_INTENT
        right.append(falls if out else (p == lab and c >= clf.threshold))
    return proba.max(1), np.array(right)


def joint_offset(
    cheap: IntentClassifier,
    full: IntentClassifier,
    gate: float,
    texts: Sequence[str],
    labels: Sequence[str],
    cfg: Any,
) -> float:
    """The shift of both models' thresholds that makes the cascade as a whole meet the
    threshold rule on validation data (``cfg``: the `ClassifierConfig`).

    Each model's threshold was chosen on its own answers; the cascade answers with the cheap
    model above the gate and the encoder model below it, and on CLINC150's val split that
    mixture caught fewer out-of-scope messages (0.77) than either model tuned alone (0.80+). Only
    with ``cfg.min_oos_examples`` out-of-scope validation examples, like the other fallback
    parameters (0 otherwise)."""
    oos = sum(lab == OUT_OF_SCOPE_INTENT or lab not in cheap.labels for lab in labels)
    if oos < cfg.min_oos_examples or oos == len(labels):
        return 0.0
    parts = []
    for clf in (cheap, full):
        scores = clf.decision(texts, clf.dense_rows(texts))
        proba = softmax(scores / clf.temperature)
        parts.append((proba, clf.fallback_scores(texts, proba, scores) - clf.threshold))
    (c_proba, c_margin), (f_proba, f_margin) = parts
    use = c_proba.max(1) < gate
    proba = np.where(use[:, None], f_proba, c_proba)
    margin = np.where(use, f_margin, c_margin)
    offset, _ = pick_threshold(cheap.labels, margin, proba, labels, cfg)
    return offset


def choose_gate(
    cheap: IntentClassifier,
    full: IntentClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    cfg: CascadeConfig,
) -> tuple[float, dict[str, float]]:
    """The gate on the cheap model's top probability, and the validation figures behind it."""
    top, cheap_ok = _outcome(cheap, texts, labels)
    _, full_ok = _outcome(full, texts, labels)
    target = float(full_ok.mean()) - cfg.tolerance
    best_gate, best = 0.0, (float(cheap_ok.mean()), 0.0)
    for gate in np.unique(np.round(np.concatenate([[0.0], top, [1.01]]), 3)):
        use = top < gate
        share = float(use.mean())
        if share > cfg.max_share + 1e-9:
            break
        acc = float(np.where(use, full_ok, cheap_ok).mean())
        if acc > best[0] + 1e-9:
            best_gate, best = float(gate), (acc, share)
        if acc >= target:
            break
    info = {
        "val_cheap": float(cheap_ok.mean()),
        "val_full": float(full_ok.mean()),
        "val_cascade": best[0],
        "val_share": best[1],
    }
    return best_gate, info


def build_cascade(
    cheap: Any, full: IntentClassifier | None, val: tuple[Sequence[str], Sequence[str]]
) -> Cascade | None:
    """Tune the (fitted) encoder model ``full`` on ``val``, choose the gate there and move
    both models' thresholds together (`joint_offset`); None without an encoder model."""
    if full is None:
        return None
    full._tune(*val)
    gate, info = choose_gate(cheap, full, val[0], val[1], cheap.config.cascade)
    offset = joint_offset(cheap, full, gate, val[0], val[1], cheap.config)
    cheap.threshold += offset
    full.threshold += offset
    return Cascade(full, gate, {**info, "threshold_offset": offset})


class Cascade:
    """The encoder model and the gate: `IntentClassifier.score_one` asks it when unsure."""

    def __init__(self, full: IntentClassifier, gate: float, info: dict[str, float]) -> None:
        self.full = full
        self.gate = gate
        self.info = info

    def needs_encoder(self, proba: FloatArray) -> bool:
        """The cheap model is unsure of this message."""
        return float(proba.max()) < self.gate

    def score(
        self, text: str, vec: npt.NDArray[np.float32], threshold: float
    ) -> tuple[FloatArray, float]:
        """The encoder model's probabilities and fallback score, the score shifted so that
        comparing it with the cheap model's ``threshold`` means what the encoder model's own
        threshold means."""
        proba, score = self.full.score_with_vector(text, vec)
        return proba, score - self.full.threshold + threshold

    def score_text(self, text: str, threshold: float) -> tuple[FloatArray, float]:
        """`score` with the encoder run here (the caller's thread)."""
        from nlu.dense import shared_encoder

        return self.score(text, shared_encoder().encode_one(text), threshold)
