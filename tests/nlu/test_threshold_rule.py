"""The fallback-threshold rule, shared by the built-in model and the Rasa benchmark."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from nlu.classifier import ClassifierConfig, choose_threshold
from nlu.thresholds import wilson_lower
from nlu.types import OUT_OF_SCOPE_INTENT, IntentScore, ParseResult

ROOT = Path(__file__).resolve().parents[2]


def _validation(seed: int = 0) -> tuple[list[ParseResult], list[str]]:
    """Parse results as a model would give them: out-of-scope messages get lower confidence."""
    rng = random.Random(seed)
    results, gold = [], []
    for i in range(400):
        oos = i % 4 == 0
        intent = rng.choice(["a", "b", "c"])
        label = OUT_OF_SCOPE_INTENT if oos else intent
        pred = intent if rng.random() < 0.9 else OUT_OF_SCOPE_INTENT if oos else "a"
        conf = rng.uniform(0.05, 0.6) if oos else rng.uniform(0.3, 1.0)
        ranking = [IntentScore(pred, conf)]
        results.append(ParseResult(f"text {i}", pred, conf, ranking))
        gold.append(label)
    return results, gold


def _arrays(
    results: list[ParseResult], gold: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    conf = np.array([r.confidence for r in results])
    correct = np.array([r.intent == g for r, g in zip(results, gold, strict=True)])
    oos = np.array([g == OUT_OF_SCOPE_INTENT for g in gold])
    oos_pred = np.array([r.intent == OUT_OF_SCOPE_INTENT for r in results])
    return conf, correct, oos, oos_pred


def _recall(conf: np.ndarray, oos: np.ndarray, oos_pred: np.ndarray, t: float) -> float:
    return float(np.mean(((conf < t) | oos_pred)[oos]))


def test_min_oos_recall_rule_is_the_lowest_threshold_with_that_recall() -> None:
    conf, correct, oos, oos_pred = _arrays(*_validation())
    t, in_acc = choose_threshold(conf, correct, oos, oos_pred, min_oos_recall=0.7, recall_z=0)
    assert _recall(conf, oos, oos_pred, t) >= 0.7
    lower = [c for c in np.unique(np.round(conf, 3)) if c < t]
    assert all(_recall(conf, oos, oos_pred, c) < 0.7 for c in lower)
    assert in_acc == pytest.approx(float(np.mean((correct & (conf >= t))[~oos])))


def test_min_oos_recall_must_hold_one_standard_error_down() -> None:
    """By default the recall that must reach the floor is the lower Wilson bound of the
    validation recall: a margin that shrinks as out-of-scope validation messages grow."""
    conf, correct, oos, oos_pred = _arrays(*_validation())
    n = int(oos.sum())
    bare, _ = choose_threshold(conf, correct, oos, oos_pred, min_oos_recall=0.7, recall_z=0)
    t, _ = choose_threshold(conf, correct, oos, oos_pred, min_oos_recall=0.7)
    assert t > bare
    assert wilson_lower(_recall(conf, oos, oos_pred, t), n, 1.0) >= 0.7
    lower = [c for c in np.unique(np.round(conf, 3)) if c < t]
    assert all(wilson_lower(_recall(conf, oos, oos_pred, c), n, 1.0) < 0.7 for c in lower)


def test_wilson_lower_bound() -> None:
    assert wilson_lower(0.7, 100, 0.0) == 0.7
    assert wilson_lower(0.75, 100, 1.0) == pytest.approx(0.7047, abs=1e-3)
    assert wilson_lower(0.75, 10_000, 1.0) == pytest.approx(0.7457, abs=1e-3)
    assert wilson_lower(1.0, 20, 1.0) < 1.0 and wilson_lower(0.0, 20, 1.0) == 0.0


def test_default_rule_weighs_recall_by_the_oos_share() -> None:
    conf, correct, oos, oos_pred = _arrays(*_validation())
    t_low, _ = choose_threshold(conf, correct, oos, oos_pred, oos_weight=0.05)
    t_high, _ = choose_threshold(conf, correct, oos, oos_pred, oos_weight=0.6)
    assert t_low < t_high  # more out-of-scope traffic expected: fall back more often


def test_plateau_rule_takes_the_middle_of_the_near_best_thresholds() -> None:
    conf, correct, oos, oos_pred = _arrays(*_validation())
    lowest, best = choose_threshold(conf, correct, oos, oos_pred)
    t, score = choose_threshold(conf, correct, oos, oos_pred, plateau=1.0)
    within = 0.25 / int(oos.sum())  # one out-of-scope message's worth of the objective
    assert best - within - 1e-9 <= score <= best + 1e-9
    near = []
    for c in np.unique(np.concatenate([[0.0], np.round(conf, 3)])):
        in_acc = float(np.mean((correct & (conf >= c))[~oos]))
        if 0.75 * in_acc + 0.25 * _recall(conf, oos, oos_pred, c) >= best - within - 1e-12:
            near.append(c)
    assert t == pytest.approx(float(np.median(near)))
    assert lowest in near


def _perturbed(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A small validation set like the bundled hold-out's (about 35 of 480 out of scope), with
    a different tenth of its messages left out each time."""
    conf, correct, oos, oos_pred = _arrays(*_validation())
    keep = np.random.default_rng(seed).random(len(conf)) < 0.9
    keep &= ~oos | (np.arange(len(conf)) % 12 == 0)
    return conf[keep], correct[keep], oos[keep], oos_pred[keep]


def test_plateau_rule_steadies_the_threshold_on_a_small_validation_set() -> None:
    best, middle = [], []
    for seed in range(20):
        arrays = _perturbed(seed)
        best.append(choose_threshold(*arrays)[0])
        middle.append(choose_threshold(*arrays, plateau=1.0)[0])
    assert 0 < np.std(middle) < np.std(best)


def test_the_classifier_uses_the_plateau_rule() -> None:
    assert ClassifierConfig().threshold_plateau == 1.0


def test_without_oos_examples_the_threshold_costs_at_most_the_allowed_loss() -> None:
    conf, correct, oos, oos_pred = _arrays(*_validation())
    keep = ~oos
    t, _ = choose_threshold(
        conf[keep], correct[keep], oos[keep], oos_pred[keep], max_fallback_loss=0.02
    )
    base = float(np.mean(correct[keep]))
    assert t > 0
    assert float(np.mean(correct[keep] & (conf[keep] >= t))) >= base - 0.02


def _bench_rasa() -> ModuleType:
    path = ROOT / "tests" / "benchmarks" / "rasa" / "bench_rasa.py"
    spec = importlib.util.spec_from_file_location("bench_rasa_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


@pytest.mark.parametrize("floor", [0.7, None])
def test_rasa_benchmark_applies_the_builtin_rule(floor: float | None) -> None:
    """Rasa's confidences go through the same rule as the built-in model's scores."""
    bench = _bench_rasa()
    results, gold = _validation(seed=1)
    cfg = ClassifierConfig()
    expected, _ = choose_threshold(
        *_arrays(results, gold), min_oos_recall=floor, recall_z=cfg.oos_recall_z
    )
    assert bench.pick_threshold(results, gold, floor) == expected
