"""The warm start of an incremental retraining (`nlu.incremental.start_from`, `nlu.linear`): the
refits start from the previous model's weights and reach the optimum of the new data, the one
scikit-learn's fit from zero reaches, reproducibly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from nlu import background, incremental, linear
from nlu.linear import fit_linear
from nlu.model import BuiltinModel, train_data
from nlu.training_data import Example, load_data

from .test_incremental import SPARSE, TOPICS, _base, _with

ADDED = (Example("my balance pls", "check_balance"), Example("card missing", "card_lost"))


def _arrays(model: BuiltinModel) -> list[Any]:
    clf = model.classifier
    parts = [clf] if clf.cascade is None else [clf, clf.cascade.full]
    return [getattr(p, n) for p in parts for n in ("_weights", "_bias", "_dense_w", "labels")]


def _same(a: list[Any], b: list[Any]) -> bool:
    return all(
        (x is None and y is None) or np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("intents", [3, 2])
def test_the_warm_start_solves_scikit_learns_problem(
    intents: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LIBLINEAR's primal solver, from zero or from the optimum itself, ends where
    scikit-learn's dual one does: the same problem (balanced costs, regularised bias), to the
    tolerance asked for."""
    keep = sorted(TOPICS)[:intents]
    examples = [e for e in _base().examples if e.intent in keep][5:]  # unbalanced classes
    x = TfidfVectorizer(sublinear_tf=True).fit_transform([e.text for e in examples])
    y = [e.intent for e in examples]
    svm = LinearSVC(C=1.0, class_weight="balanced", tol=1e-8, max_iter=100_000).fit(x, y)
    exact = svm.decision_function(x).reshape(len(y), -1)
    labels, coef, bias = fit_linear(x, y, 1.0)
    assert labels == keep
    for tol, within in ((1e-7, 1e-5), (linear.WARM_TOL, 0.05)):
        monkeypatch.setattr(linear, "WARM_TOL", tol)
        for start in (np.zeros_like(coef), coef):
            got, w, b = fit_linear(x, y, 1.0, init=(start, np.zeros_like(bias)))
            assert got == labels
            scores = (x @ w.T + b)[:, -exact.shape[1] :]  # binary: the second class's
            assert np.abs(scores - exact).max() < within
            assert (np.sign(scores) == np.sign(exact)).all()


def test_a_warm_retraining_is_reproducible_and_learns_the_added_examples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = train_data(_base(), classifier=SPARSE)
    more = _with(_base(), *ADDED)
    one = train_data(more, classifier=SPARSE, previous=first)
    two = train_data(more, classifier=SPARSE, previous=first)
    assert one.meta["training"]["kind"] == "incremental"
    assert _same(_arrays(one), _arrays(two))  # the same weights, bit for bit
    for ex in ADDED:
        assert one.parse_sync(ex.text).intent == ex.intent
    # beside the exact refit from zero (scikit-learn's fit of the new data): the same answers
    # to every training text, and raw scores within the solver's tolerance
    monkeypatch.setattr(incremental, "WARM", False)
    exact = train_data(more, classifier=SPARSE, previous=first)
    texts = [e.text for e in more.examples]
    warm_s, exact_s = one.classifier.decision(texts), exact.classifier.decision(texts)
    assert np.abs(warm_s - exact_s).max() < 0.05
    assert (warm_s.argmax(1) == exact_s.argmax(1)).all()
    assert not _same(_arrays(one), _arrays(exact))  # it did start elsewhere


def test_the_cascade_refits_warm_and_reproducibly(tiny_data: Path) -> None:
    """Both SVMs of the cascade (the encoder model's too, when its gate is above 0), here on
    the same data (the tiny set's 2% is no whole example): from the optimum, to it."""
    data = load_data([tiny_data])
    first = train_data(data)
    one = train_data(data, previous=first)
    two = train_data(data, previous=first)
    with background.inline():  # on one core: the same, bit for bit
        three = train_data(data, previous=first)
    assert one.meta["training"]["kind"] == "incremental"
    assert _same(_arrays(one), _arrays(two)) and _same(_arrays(one), _arrays(three))
    texts = [e.text for e in data.examples]
    before = [r.ranking[0].name for r in first.parse_batch(texts, entities=False)]
    assert [r.ranking[0].name for r in one.parse_batch(texts, entities=False)] == before


def test_the_start_maps_the_previous_weights_by_feature() -> None:
    """A feature the previous model had keeps its weight at the start (by n-gram, wherever the
    new vocabulary puts it); a new one starts at 0."""
    first = train_data(_base(), classifier=SPARSE)
    prev = first.classifier
    new = train_data(_with(_base(), *ADDED), classifier=SPARSE, previous=first).classifier
    n_sparse = len(new._word_vocab) + len(new._char_vocab) + len(new._pair_vocab)
    coef, bias = incremental.start_from(prev)(new, n_sparse)
    assert prev._weights is not None and prev._bias is not None
    assert np.array_equal(bias, prev._bias)
    for gram in ("balance", "card", "lost card"):
        j, k = new._word_vocab[gram], prev._word_vocab[gram]
        assert np.array_equal(coef[:, j], prev._weights[k])
    assert "pls" in new._word_vocab and "pls" not in prev._word_vocab
    assert not coef[:, new._word_vocab["pls"]].any()
