"""Training on two cores (`nlu.background`): the cheap model's SVM and the CRF run in forked
child processes beside the rest, and the model is the one a training on one core makes, bit for
bit."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlu import background
from nlu.crf import CrfConfig, CrfEntityExtractor
from nlu.model import BuiltinModel, train_data
from nlu.training_data import load_data

TWO_CORES = background.parallel()


def test_a_job_runs_in_a_child_process_and_returns_its_result() -> None:
    if not TWO_CORES:
        pytest.skip("one core (or no fork): every job runs in the calling process")
    parent = os.getpid()
    job = background.start(lambda: (os.getpid(), np.arange(200_000, dtype=np.float32)))
    pid, arr = job.result()
    assert pid != parent  # a child's
    assert arr.shape == (200_000,) and float(arr[-1]) == 199_999.0  # larger than a pipe's buffer


def test_inline_runs_the_job_in_the_calling_process() -> None:
    with background.inline():
        assert not background.parallel()
        assert background.start(os.getpid).result() == os.getpid()
    assert background.parallel() == TWO_CORES


def test_the_childs_exception_is_raised_in_the_parent() -> None:
    def fail() -> None:
        raise ValueError("no intents")

    with pytest.raises(ValueError, match="no intents"):
        background.start(fail).result()


def test_an_exception_that_does_not_pickle_arrives_as_its_text() -> None:
    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("held a lock")
            self.lock = threading.Lock()

    def fail() -> None:
        raise Unpicklable

    expected = RuntimeError if TWO_CORES else Unpicklable
    with pytest.raises(expected, match="held a lock"):
        background.start(fail).result()


def _arrays(model: BuiltinModel) -> list[Any]:
    clf = model.classifier
    assert clf.cascade is not None
    parts = [clf, clf.cascade.full]
    return [getattr(p, n) for p in parts for n in ("_weights", "_bias", "_dense_w", "labels")]


def test_two_cores_train_the_model_one_core_trains(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cascade's two SVMs (tuning and final fits) and the CRF: what ran in child processes
    gives the same weights, tuning, CRF and parses as everything in this process."""
    data = load_data([tiny_data])
    started: list[str] = []
    original = background.start

    def counting(fn: Any) -> Any:
        started.append(getattr(fn, "__qualname__", "?"))
        return original(fn)

    monkeypatch.setattr(background, "start", counting)
    two = train_data(data)
    assert two.classifier.cascade is not None
    # the CRF, and the cheap model's SVM beside the encoder model's: the tuning fits, and the
    # final fits unless the gate is 0 (then the encoder model is not fitted again)
    assert len(started) == (3 if two.classifier.cascade.gate > 0 else 2)
    with background.inline():
        one = train_data(data)
    for a, b in zip(_arrays(two), _arrays(one), strict=True):
        assert np.array_equal(a, b)
    c2, c1 = two.classifier, one.classifier
    assert (c2.threshold, c2.temperature) == (c1.threshold, c1.temperature)
    assert c2.cascade is not None and c1.cascade is not None
    assert c2.cascade.gate == c1.cascade.gate
    assert two.crf._model is not None and two.crf._model == one.crf._model
    assert two.crf._rules is two.rules  # the model's own extractor, not a child's copy
    for text in ("де моє замовлення A1001", "хочу записатись на манікюр завтра", "яка погода"):
        assert two.parse_sync(text) == one.parse_sync(text)


def test_a_crf_fit_does_not_depend_on_the_fits_before_it(tiny_data: Path) -> None:
    """CRFsuite's SGD (SNIPS's algorithm) shuffles with the C library's rand(): seeded for each
    fit, a second fit in the same process, or one in a child, is the first one again."""
    examples = load_data([tiny_data]).examples
    cfg = CrfConfig(algorithm="l2sgd")
    with background.inline():
        first = CrfEntityExtractor(cfg).fit(examples)._model
        second = CrfEntityExtractor(cfg).fit(examples)._model
    in_child = CrfEntityExtractor(cfg).fit_later(examples)()._model
    assert first is not None and first == second == in_child
