"""Confidence calibration and the fallback threshold: temperature-scaled softmax, the
temperature fitted on validation data, and the threshold rule (shared with the benchmarks that
apply it to other systems)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.types import OUT_OF_SCOPE_INTENT

FloatArray = npt.NDArray[np.float64]


def fit_temperature(
    scores: FloatArray, known: npt.NDArray[np.bool_], y: npt.NDArray[np.int_]
) -> float:
    """The softmax temperature that minimises the validation negative log-likelihood.

    ``scores``: raw decision scores, one row per validation message; ``known``: the message's
    intent is one of the model's labels; ``y``: its label index (only read where ``known``).
    """
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.02, 5.0, 40):
        p = softmax(scores[known] / t)
        nll = -np.mean(np.log(p[np.arange(int(known.sum())), y[known]] + 1e-12))
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def choose_threshold(
    conf: FloatArray,
    correct: npt.NDArray[np.bool_],
    oos: npt.NDArray[np.bool_],
    oos_pred: npt.NDArray[np.bool_],
    *,
    oos_weight: float = 0.25,
    min_oos_recall: float | None = None,
    max_fallback_loss: float = 0.01,
    recall_z: float = 1.0,
    plateau: float = 0.0,
) -> tuple[float, float]:
    """The fallback threshold chosen on validation data, and the objective it reaches.

    ``conf``: each validation message's fallback score; ``correct``: the top intent is right;
    ``oos``: the message is out of scope; ``oos_pred``: the top intent is ``out_of_scope``. A
    message falls back when ``conf < threshold``. With out-of-scope messages the threshold
    maximises ``(1 - oos_weight) * in-scope accuracy + oos_weight * out-of-scope recall``, or,
    with ``min_oos_recall``, the in-scope accuracy among thresholds that keep that recall (the
    lowest such threshold on ties). Without, it is the highest threshold that costs at most
    ``max_fallback_loss`` of accuracy. Benchmarks apply the same function to other systems.

    ``min_oos_recall`` is a promise about new messages, not about the validation set: the recall
    that counts is the lower Wilson bound of the validation recall, ``recall_z`` standard errors
    down (0: the recall as measured). With 100 out-of-scope validation messages, a threshold
    that just reaches 0.70 on them falls short on new data about half the time; one standard
    error asks the validation data to show about 0.75.

    ``plateau`` (the ``oos_weight`` rule only): the median of the candidates within ``plateau``
    out-of-scope messages' worth (``plateau * oos_weight / n_oos``) of the best objective, not
    the lowest best one. With a few dozen out-of-scope validation messages the objective is a
    flat, ragged plateau whose highest point a message or two decide (the bundled model's
    threshold went 0.485 -> 0.545 with ten more examples); the middle is steadier.
    """
    candidates = np.unique(np.concatenate([[0.0], np.round(conf, 3)]))
    if oos.any() and (~oos).any():
        n_oos = int(oos.sum())
        best, best_score = 0.0, -np.inf
        scores: list[float] = []
        for t in candidates:
            fallback = conf < t
            in_acc = float(np.mean((correct & ~fallback)[~oos]))
            oos_rec = float(np.mean((fallback | oos_pred)[oos]))
            if min_oos_recall is None:
                score = (1 - oos_weight) * in_acc + oos_weight * oos_rec
            else:
                bound = wilson_lower(oos_rec, n_oos, recall_z)
                score = in_acc if bound >= min_oos_recall - 1e-12 else bound - 1.0
            scores.append(score)
            if score > best_score + 1e-9:
                best, best_score = float(t), score
        if min_oos_recall is None and plateau > 0:
            near = candidates[np.array(scores) >= best_score - plateau * oos_weight / n_oos - 1e-12]
            best = float(np.median(near))
            best_score = _weighted(conf, correct, oos, oos_pred, best, oos_weight)
        return best, best_score
    base = float(np.mean(correct))
    ok = [t for t in candidates if np.mean(correct & (conf >= t)) >= base - max_fallback_loss]
    return (float(max(ok)) if ok else 0.0), 0.0


def _weighted(
    conf: FloatArray,
    correct: npt.NDArray[np.bool_],
    oos: npt.NDArray[np.bool_],
    oos_pred: npt.NDArray[np.bool_],
    t: float,
    oos_weight: float,
) -> float:
    """The ``oos_weight`` rule's objective at threshold ``t``."""
    fallback = conf < t
    in_acc = float(np.mean((correct & ~fallback)[~oos]))
    oos_rec = float(np.mean((fallback | oos_pred)[oos]))
    return (1 - oos_weight) * in_acc + oos_weight * oos_rec


def pick_threshold(
    names: Sequence[str], conf: FloatArray, proba: FloatArray, labels: Sequence[str], cfg: Any
) -> tuple[float, float]:
    """A classifier's threshold on ``conf`` (its fallback scores on validation data, whose
    probabilities over ``names`` are ``proba`` and true intents ``labels``) by
    `choose_threshold` with the settings of ``cfg`` (a `nlu.classifier.ClassifierConfig`), and
    the validation objective it reaches."""
    pred = [names[i] for i in proba.argmax(axis=1)]
    oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in names for lab in labels])
    correct = np.array([p == lab for p, lab in zip(pred, labels, strict=True)])
    oos_pred = np.array([p == OUT_OF_SCOPE_INTENT for p in pred])
    return choose_threshold(
        conf, correct, oos, oos_pred, oos_weight=cfg.oos_weight,
        min_oos_recall=cfg.min_oos_recall, max_fallback_loss=cfg.max_fallback_loss,
        recall_z=cfg.oos_recall_z, plateau=cfg.threshold_plateau,
    )  # fmt: skip


def wilson_lower(p: float, n: int, z: float) -> float:
    """Lower Wilson score bound of a proportion ``p`` measured on ``n`` trials, ``z`` standard
    errors down (``z`` = 0 returns ``p``)."""
    if z <= 0 or n <= 0:
        return p
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


def sigmoid(x: float) -> float:
    """Logistic function, safe for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def softmax_row(z: FloatArray) -> FloatArray:
    """Softmax of one row of scores."""
    e = np.exp(z - z.max())
    out: FloatArray = e / e.sum()
    return out


def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax of a score matrix."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def tune_fallback(clf: Any, texts: Sequence[str], labels: Sequence[str]) -> None:
    """Fit ``clf``'s temperature on validation data, then its fallback base, unknown-word
    exponent, similarity weight and threshold (`pick_threshold`; ``clf``: a
    `nlu.classifier.IntentClassifier`)."""
    rows = clf.dense_rows(texts)
    scores = clf.decision(texts, rows)
    idx = {lab: i for i, lab in enumerate(clf.labels)}
    known = np.array([lab in idx for lab in labels])
    y = np.array([idx.get(lab, -1) for lab in labels])
    best_t = fit_temperature(scores, known, y)
    clf.temperature = best_t
    proba = softmax(scores / best_t)
    oos = np.array([lab == OUT_OF_SCOPE_INTENT or lab not in idx for lab in labels])
    cfg = clf.config
    enough = int(oos.sum()) >= cfg.min_oos_examples and (~oos).any()
    powers = cfg.unknown_powers if enough else (0.0,)
    bases = cfg.fallback_bases if enough else ("probability",)
    sims: FloatArray | None = None
    sim_weights: tuple[float, ...] = (0.0,)
    if enough and rows is not None and clf._nearest is not None:
        sims = clf._nearest.similarities(rows, [clf.labels[i] for i in proba.argmax(1)])
        sim_weights = cfg.dense.sim_weights or (0.0,)
    best = ("probability", 0.0, 0.0)
    best_score = -np.inf
    for base, power, sim_w in itertools.product(bases, powers or (0.0,), sim_weights):
        # ties keep the earlier base, the smaller exponent and similarity weight
        clf.fallback_base, clf.unknown_power, clf.sim_weight = base, float(power), sim_w
        conf = clf.fallback_scores(texts, proba, scores, sims)
        t, score = pick_threshold(clf.labels, conf, proba, labels, clf.config)
        if score > best_score + 1e-9:
            best, best_score, clf.threshold = (base, float(power), sim_w), score, t
    clf.fallback_base, clf.unknown_power, clf.sim_weight = best
