"""Intent classifier: the unknown-word fallback score and the threshold rules (synthetic data)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nlu import BuiltinModel
from nlu.cascade import CascadeConfig
from nlu.classifier import SCORE_SCALE, ClassifierConfig, IntentClassifier
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT

POOLS = {
    "track_order": ["order", "parcel", "delivery", "track", "package", "shipment"],
    "book": ["book", "appointment", "slot", "visit", "reserve", "schedule"],
    "greet": ["hello", "hi", "greetings", "hey", "morning", "howdy"],
    OUT_OF_SCOPE_INTENT: ["weather", "joke", "football", "music", "recipe", "movie"],
}


def _examples(rng: random.Random, n: int, intent: str) -> list[tuple[str, str]]:
    return [(" ".join(rng.sample(POOLS[intent], 3)), intent) for _ in range(n)]


def _split(n_val_oos: int) -> tuple[list[str], list[str], list[str], list[str]]:
    rng = random.Random(0)
    train = [ex for intent in POOLS for ex in _examples(rng, 40, intent)]
    val = [
        ex for intent in POOLS if intent != OUT_OF_SCOPE_INTENT for ex in _examples(rng, 30, intent)
    ]
    for i in range(n_val_oos):
        # Out-of-scope messages the training data never saw: in-scope words and new ones, as
        # confident as in-scope messages until the unseen words count.
        known = " ".join(rng.sample(POOLS[rng.choice(["track_order", "book", "greet"])], 3))
        val.append((f"{known} zq{i}x wv{i}k yp{i}f", OUT_OF_SCOPE_INTENT))
    return [t for t, _ in train], [y for _, y in train], [t for t, _ in val], [y for _, y in val]


def _oos_recall(clf: IntentClassifier, texts: list[str], labels: list[str]) -> float:
    proba = clf.predict_proba(texts)
    scores = clf.fallback_scores(texts, proba)
    caught = [
        s < clf.threshold or clf.labels[int(i)] == OUT_OF_SCOPE_INTENT
        for s, i in zip(scores, proba.argmax(axis=1), strict=True)
    ]
    oos = [c for c, y in zip(caught, labels, strict=True) if y == OUT_OF_SCOPE_INTENT]
    return float(np.mean(oos))


def test_known_share() -> None:
    tx, ty, _, _ = _split(0)
    clf = IntentClassifier().fit(tx, ty)
    assert clf.known_share("order parcel") == pytest.approx(1.0)
    assert clf.known_share("ORDER, Parcel!") == pytest.approx(1.0)  # normalised like features
    assert clf.known_share("") == 1.0 and clf.known_share("?!") == 1.0
    assert 0.0 < clf.known_share("order qqqzzz") < 0.6
    assert clf.known_share("qqqzzz xxyyw") == 0.0


def test_unknown_words_exponent_tuned_on_enough_validation_data() -> None:
    tx, ty, vx, vy = _split(60)
    clf = IntentClassifier().fit(tx, ty, val=(vx, vy))
    assert clf.unknown_power > 0
    assert _oos_recall(clf, vx, vy) >= 0.9
    plain = IntentClassifier(ClassifierConfig(unknown_powers=(0.0,))).fit(tx, ty, val=(vx, vy))
    assert _oos_recall(plain, vx, vy) < 0.5  # the plain confidence cannot tell them apart
    # The ranking is still the calibrated softmax: the exponent changes the fallback score only.
    proba = clf.predict_proba(["order zq1x wv1k"])
    assert proba.sum() == pytest.approx(1.0)
    assert clf.fallback_scores(["order zq1x wv1k"], proba)[0] < proba.max()


def test_small_validation_data_keeps_the_plain_confidence() -> None:
    tx, ty, vx, vy = _split(20)  # fewer than min_oos_examples
    clf = IntentClassifier().fit(tx, ty, val=(vx, vy))
    assert clf.unknown_power == 0.0
    proba = clf.predict_proba(vx)
    assert np.allclose(clf.fallback_scores(vx, proba), proba.max(axis=1))


def test_min_oos_recall_rule() -> None:
    tx, ty, vx, vy = _split(60)
    cfg = ClassifierConfig(min_oos_recall=0.95, unknown_powers=(0.0,))
    clf = IntentClassifier(cfg).fit(tx, ty, val=(vx, vy))
    assert _oos_recall(clf, vx, vy) >= 0.95
    # The threshold is the lowest one that keeps the recall: a lower one loses it.
    lower = IntentClassifier(cfg).fit(tx, ty, val=(vx, vy))
    lower.threshold = max(0.0, clf.threshold - 0.01)
    assert lower.threshold == 0.0 or _oos_recall(lower, vx, vy) < 0.95


def test_parse_falls_back_on_the_fallback_score(tiny_model: BuiltinModel) -> None:
    clf = tiny_model.classifier
    text = "hello qwzx vbnm plkj"
    saved = clf.unknown_power
    tiny_model.fallback_threshold = 0.05
    try:
        clf.unknown_power = 0.0
        before = tiny_model.parse_sync(text)
        clf.unknown_power = 20.0
        after = tiny_model.parse_sync(text)
    finally:
        clf.unknown_power = saved
        tiny_model.fallback_threshold = None
    assert before.intent != FALLBACK_INTENT and after.intent == FALLBACK_INTENT
    assert after.ranking == before.ranking and after.confidence == before.confidence


@pytest.mark.parametrize("base", ["probability", "score"])
def test_fallback_score_base(base: str) -> None:
    """Both bases give the same fallback score one message at a time and in a batch; "score"
    is the sigmoid of the top raw SVM score, discounted like the probability."""
    tx, ty, vx, vy = _split(60)
    cfg = ClassifierConfig(fallback_bases=(base,), cascade=CascadeConfig(enabled=False))
    clf = IntentClassifier(cfg).fit(tx, ty, val=(vx, vy))
    assert clf.fallback_base == base
    proba = clf.predict_proba(vx)
    batch = clf.fallback_scores(vx, proba)
    assert np.allclose(batch, [clf.score_one(t)[1] for t in vx])
    share = np.array([clf.known_share(t) for t in vx]) ** clf.unknown_power
    if base == "score":
        top = 1.0 / (1.0 + np.exp(-SCORE_SCALE * clf.decision(vx).max(axis=1)))
    else:
        top = proba.max(axis=1)
    assert clf._nearest is not None
    rows = clf.dense_rows(vx)
    assert rows is not None
    sims = clf._nearest.similarities(rows, [clf.labels[i] for i in proba.argmax(axis=1)])
    mixed = (1 - clf.sim_weight) * top * share + clf.sim_weight * sims
    assert np.allclose(batch, mixed)
    assert _oos_recall(clf, vx, vy) >= 0.9


def test_fallback_base_chosen_on_validation_data_only_with_enough_oos() -> None:
    tx, ty, vx, vy = _split(20)  # fewer than min_oos_examples: the plain probability
    clf = IntentClassifier(ClassifierConfig(fallback_bases=("score",))).fit(tx, ty, val=(vx, vy))
    assert clf.fallback_base == "probability"
