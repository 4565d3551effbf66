"""The single-message parse path: the same results as the batch path and as scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu import BuiltinModel, bundled_test_path, load_data, load_model
from nlu.classifier import ClassifierConfig, IntentClassifier, normalize
from nlu.dense import DenseConfig
from nlu.model import bundled_data_path, train_data

from .conftest import NOW, TZ


@pytest.fixture(scope="module")
def bundled_model() -> BuiltinModel:
    return train_data(load_data([bundled_data_path()]))


@pytest.fixture(scope="module")
def test_texts() -> list[str]:
    return [e.text for e in load_data([bundled_test_path()]).examples]


def test_single_parse_equals_batch_parse_on_bundled_test_set(
    bundled_model: BuiltinModel, test_texts: list[str]
) -> None:
    batch = bundled_model.parse_batch(test_texts, now=NOW, tz=TZ, language="uk")
    single = [bundled_model.parse_sync(t, now=NOW, tz=TZ, language="uk") for t in test_texts]
    assert single == batch
    # The set exercises every part of the pipeline: entities of each rule type and the CRF.
    extractors = {e.extractor for r in single for e in r.entities}
    assert {"DateExtractor", "PhoneExtractor", "OrderNumberExtractor"} <= extractors


def test_repeated_parse_uses_cache_without_changing_results(
    bundled_model: BuiltinModel, test_texts: list[str]
) -> None:
    first = [bundled_model.parse_sync(t, now=NOW, tz=TZ) for t in test_texts[:50]]
    again = [bundled_model.parse_sync(t, now=NOW, tz=TZ) for t in test_texts[:50]]
    assert first == again


def test_saved_and_loaded_model_parses_the_same(
    bundled_model: BuiltinModel, test_texts: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.model"
    bundled_model.parse_sync("warm the caches up")
    bundled_model.save(path)
    loaded = load_model(path)
    # Lookup tables and caches are not written into the model file; loading builds them.
    assert bundled_model.classifier.__getstate__()["_runtime"] is None
    assert loaded.classifier._runtime is not None
    texts = test_texts[:80]
    assert [loaded.parse_sync(t, now=NOW, tz=TZ) for t in texts] == [
        bundled_model.parse_sync(t, now=NOW, tz=TZ) for t in texts
    ]


@pytest.mark.parametrize("pair_window", [0, 5])
def test_scores_match_scikit_learn_transform(test_texts: list[str], pair_window: int) -> None:
    """The hand-written features times the weights equal scikit-learn's own pipeline."""
    train = load_data([bundled_data_path()])
    texts, labels = [e.text for e in train.examples], [e.intent for e in train.examples]
    cfg = ClassifierConfig(
        pair_window=pair_window, pair_weight=0.5, pair_min_examples=0,
        dense=DenseConfig(source="none"),  # sparse blocks only (dense: tests/nlu/test_dense.py)
    )  # fmt: skip
    clf = IntentClassifier(cfg)
    clf._fit_core(texts, labels)
    word = TfidfVectorizer(
        preprocessor=normalize, ngram_range=cfg.word_ngrams, sublinear_tf=True,
        token_pattern=r"(?u)\b\w+\b", dtype=np.float32,
    )  # fmt: skip
    char = TfidfVectorizer(
        preprocessor=normalize, analyzer="char_wb", ngram_range=cfg.char_ngrams,
        sublinear_tf=True, min_df=2 if len(texts) > 2000 else 1, dtype=np.float32,
    )  # fmt: skip
    blocks = [word.fit(texts), char.fit(texts)]
    assert word.vocabulary_ == clf._word_vocab and char.vocabulary_ == clf._char_vocab
    if pair_window:
        pairs = TfidfVectorizer(
            analyzer=clf.pair_features, sublinear_tf=True, min_df=2, dtype=np.float32
        ).fit(texts)
        assert pairs.vocabulary_ == clf._pair_vocab and len(clf._pair_vocab) > 100
        blocks.append(pairs)
    else:
        assert clf._pair_vocab == {}
    sample = [*test_texts[:150], "", "???", "Де  моє замовлення A1001?", "a b c d e f g h i j k"]
    x = sparse.hstack([b.transform(sample) for b in blocks], format="csr")
    # The pair block's training scale is folded into the stored weights.
    expected = x @ clf._weights + clf._bias
    assert np.allclose(clf.decision(sample), expected, atol=1e-5)
    assert clf.decision(sample).argmax(axis=1).tolist() == expected.argmax(axis=1).tolist()


def test_pair_features() -> None:
    clf = IntentClassifier(ClassifierConfig(pair_window=3))
    assert clf.pair_features("My card, has NOT arrived") == [
        "my~has", "my~not", "card~not", "card~arrived", "has~arrived",
    ]  # fmt: skip
    assert clf.pair_features("one two") == []


def test_classifier_pickled_before_word_pairs_still_parses() -> None:
    """Model files from before the pair block and the lookup tables load and score as before."""
    import pickle

    train = load_data([bundled_data_path()])
    texts, labels = [e.text for e in train.examples], [e.intent for e in train.examples]
    clf = IntentClassifier(ClassifierConfig(pair_window=0))
    clf._fit_core(texts, labels)
    expected = clf.decision(texts[:40])
    old = IntentClassifier.__new__(IntentClassifier)
    state = {k: v for k, v in clf.__dict__.items() if not k.startswith(("_pair", "_runtime"))}
    old.__dict__.update(state)  # what unpickling an old file gives
    old = pickle.loads(pickle.dumps(old))
    assert np.array_equal(old.decision(texts[:40]), expected)


def test_word_pairs_only_with_enough_training_data(bundled_model: BuiltinModel) -> None:
    clf = bundled_model.classifier
    assert bundled_model.meta["examples"] < clf.config.pair_min_examples
    assert clf._pair_vocab == {} and clf._pair_window == 0
    train = load_data([bundled_data_path()])
    texts, labels = [e.text for e in train.examples], [e.intent for e in train.examples]
    big = IntentClassifier(ClassifierConfig(pair_min_examples=len(texts)))
    big._fit_core(texts, labels)
    assert big._pair_window == 20 and len(big._pair_vocab) > 100
