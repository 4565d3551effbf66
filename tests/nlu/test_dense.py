"""Dense features: the static word table and the encoder in the classifier, the cascade, the
encoder recorded in the model file, and the encoder kept off the event loop's thread.

Small data only (the tiny training set): every sentence the encoder sees here is cached after
the first run (`nlu.encoder.VectorCache`)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlu import BuiltinModel, ModelLoadError, load_data, load_model
from nlu.cascade import Cascade
from nlu.classifier import ClassifierConfig, IntentClassifier
from nlu.dense import DenseConfig, shared_encoder
from nlu.model import train_data
from nlu.modelfile import read_model_file, write_model_file


def test_static_dense_scores_are_the_sparse_scores_plus_the_table_vector(
    tiny_model: BuiltinModel,
) -> None:
    clf = tiny_model.classifier
    assert clf._dense is not None and clf._dense.source == "static"
    assert tiny_model.vectors is not None and tiny_model.vectors.dim == 384
    texts = ["where is my order", "запишіть мене на манікюр", "розкажи анекдот", ""]
    rows = clf.dense_rows(texts)
    assert rows is not None and rows.shape == (4, 384)
    sparse_only = clf.decision(texts, np.zeros_like(rows))
    assert clf._dense_w is not None
    assert np.allclose(clf.decision(texts), sparse_only + rows @ clf._dense_w, atol=1e-4)
    assert np.allclose(rows[0], tiny_model.vectors.sentence(texts[0]))


def test_the_model_file_records_the_encoder(tiny_model_path: Path) -> None:
    header, _ = read_model_file(tiny_model_path)
    enc = header["meta"]["encoder"]
    assert enc["version"] == "0.3.0" and len(enc["weights_sha256"]) == 64
    assert "multilingual-e5-small" in enc["name"]


def test_a_model_from_another_encoder_is_refused(tiny_model_path: Path, tmp_path: Path) -> None:
    header, payload = read_model_file(tiny_model_path)
    meta = dict(header["meta"])
    meta["encoder"] = {**meta["encoder"], "version": "0.2.0", "weights_sha256": "ab" * 32}
    other = tmp_path / "other.model"
    write_model_file(other, {"meta": meta, "versions": header["versions"]}, payload)
    with pytest.raises(ModelLoadError, match=r"sentence encoder .*0\.2\.0 \(weights abab.*retrain"):
        load_model(other)


def test_a_sparse_only_model_needs_no_encoder(tiny_data: Path) -> None:
    cfg = ClassifierConfig(dense=DenseConfig(source="none"))
    model = train_data(load_data([tiny_data]), classifier=cfg)
    assert model.meta["encoder"] is None and model.vectors is None
    assert model.classifier.cascade is None
    assert model.parse_sync("where is my order").intent == "check_order_status"


def test_the_cascade_encoder_model_answers_where_the_cheap_one_is_unsure(
    tiny_model: BuiltinModel,
) -> None:
    cascade = tiny_model.classifier.cascade
    assert cascade is not None and cascade.full._dense is not None
    assert cascade.full._dense.source == "encoder"
    assert set(cascade.info) == {
        "val_cheap",
        "val_full",
        "val_cascade",
        "val_share",
        "threshold_offset",
    }
    assert cascade.info["threshold_offset"] == 0.0  # too few out-of-scope examples to move it
    assert 0.0 <= cascade.info["val_share"] <= tiny_model.classifier.config.cascade.max_share


@pytest.fixture
def always_encoder(tiny_model: BuiltinModel) -> Any:
    """The tiny model with a gate every message is under, and the threads the encoder ran on."""
    clf = tiny_model.classifier
    saved = clf.cascade
    assert saved is not None
    clf.cascade = Cascade(saved.full, 1.01, saved.info)
    encoder = shared_encoder()
    threads: list[str] = []
    original = encoder.encode

    def recording(texts: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(texts)

    encoder.encode = recording  # type: ignore[method-assign]
    try:
        yield threads
    finally:
        clf.cascade = saved
        del encoder.encode


async def test_async_parse_runs_the_encoder_off_the_event_loop(
    tiny_model: BuiltinModel, always_encoder: list[str]
) -> None:
    text = "коли я можу прийти"
    result = await tiny_model.parse(text)
    assert always_encoder and all(t.startswith("nlu-encoder") for t in always_encoder)
    assert threading.current_thread().name not in always_encoder
    same = tiny_model.parse_sync(text)  # the synchronous path runs it on the caller's thread
    assert dataclasses.replace(result) == same
    assert always_encoder[-1] == threading.current_thread().name


def test_retraining_reads_the_vectors_from_the_cache(tiny_data: Path, tmp_path: Path) -> None:
    from nlu.dense import shared_cache

    cfg = ClassifierConfig(dense=DenseConfig(cache_dir=tmp_path))
    data = load_data([tiny_data])
    train_data(data, classifier=cfg)
    cache = shared_cache(tmp_path)
    first = cache.misses
    assert first > 0 and list(tmp_path.glob("*/*.npz"))
    train_data(data, classifier=cfg)
    assert cache.misses == first  # nothing encoded again
    assert isinstance(IntentClassifier(cfg).config.dense.cache_dir, Path)


def test_the_cascade_as_a_whole_meets_the_threshold_rule_on_validation() -> None:
    """Each model's threshold is chosen on its own answers; with enough out-of-scope validation
    examples both move together so that the mixture of their answers keeps the rule."""
    from nlu.cascade import CascadeConfig, joint_offset
    from nlu.thresholds import wilson_lower

    from .test_classifier import _split

    tx, ty, vx, vy = _split(60)
    cfg = ClassifierConfig(min_oos_recall=0.7, cascade=CascadeConfig(max_share=0.5))
    clf = IntentClassifier(cfg).fit(tx, ty, val=(vx, vy))
    cascade = clf.cascade
    assert cascade is not None and "threshold_offset" in cascade.info
    assert abs(joint_offset(clf, cascade.full, cascade.gate, vx, vy, cfg)) < 1e-9  # settled
    caught = []
    for text, label in zip(vx, vy, strict=True):
        proba, score = clf.score_one(text)
        if label == "out_of_scope":
            caught.append(score < clf.threshold or clf.labels[int(proba.argmax())] == label)
    assert wilson_lower(float(np.mean(caught)), len(caught), cfg.oos_recall_z) >= 0.7


def test_shared_tfidf_blocks_and_the_tuning_memo_change_no_figure(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training counts the TF-IDF blocks once for both cascade models and scores the
    validation texts once for every tuning step; the model is the one computed the long way."""
    examples = load_data([tiny_data]).examples
    texts, labels = [e.text for e in examples], [e.intent for e in examples]
    val = (texts[::3], labels[::3])  # given: both models are fitted on all the texts
    clf = IntentClassifier(ClassifierConfig()).fit(texts, labels, val=val)
    assert clf.cascade is not None and clf._memo is None and clf.cascade.full._memo is None
    alone = clf._encoder_model()
    assert alone is not None
    alone._fit_core(texts, labels)
    assert np.array_equal(clf.cascade.full._weights, alone._weights)
    assert clf.cascade.full._char_vocab == alone._char_vocab
    monkeypatch.setattr(IntentClassifier, "_memoised", lambda _s, _k, _t, compute: compute())
    slow = IntentClassifier(ClassifierConfig()).fit(texts, labels, val=val)
    assert slow.cascade is not None
    got = (clf.threshold, clf.temperature, clf.cascade.gate, clf.cascade.info)
    assert got == (slow.threshold, slow.temperature, slow.cascade.gate, slow.cascade.info)


def test_a_gate_of_zero_skips_the_encoder_models_final_fit(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no validation message under the gate the encoder model never answers, so it is not
    fitted again on all the data (SNIPS: a quarter of its SVM time)."""
    from nlu.cascade import CascadeConfig

    examples = load_data([tiny_data]).examples
    texts, labels = [e.text for e in examples], [e.intent for e in examples]
    fits: list[str] = []
    original = IntentClassifier._fit_core

    def counting(self: IntentClassifier, *args: Any, **kwargs: Any) -> Any:
        fits.append(self.config.dense.source)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IntentClassifier, "_fit_core", counting)
    cfg = ClassifierConfig(cascade=CascadeConfig(max_share=0.0))
    clf = IntentClassifier(cfg).fit(texts, labels)
    assert clf.cascade is not None and clf.cascade.gate == 0.0
    assert fits == ["static", "encoder", "static"]
    for text in ("where is my order", "розкажи анекдот"):
        proba, score = clf.score_one(text)
        cheap = clf.score_cheap(text)
        assert np.array_equal(proba, cheap[0]) and score == cheap[1]
