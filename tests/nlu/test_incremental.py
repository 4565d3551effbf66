"""Incremental retraining (`nlu.incremental`): when a model's data grows by a few examples, the
next training reuses its tuning (and CRF) and fits the classifier once; anything else that
changed makes it a full training."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nlu import incremental
from nlu.annotations import EntitySpan
from nlu.classifier import ClassifierConfig, IntentClassifier
from nlu.cli import main
from nlu.dense import DenseConfig
from nlu.model import BuiltinModel, load_model, previous_model, train_data
from nlu.normalise import normalise_text
from nlu.training_data import Example, TrainingData

SPARSE = ClassifierConfig(dense=DenseConfig(source="none"))
TOPICS = {
    "check_balance": ["balance", "money left", "funds", "account total", "savings"],
    "card_lost": ["lost card", "stolen card", "missing card", "card gone", "card theft"],
    "transfer": ["send money", "wire funds", "pay a friend", "move cash", "bank transfer"],
}
FRAMES = [
    "what about my {}", "help with {}", "i need {} now", "question on {}", "{} please",
    "tell me about {}", "can you check {}", "{} today",
]  # fmt: skip


def _base() -> TrainingData:
    """120 examples of 3 intents: 2% allows two more."""
    examples = [
        Example(frame.format(words), intent)
        for intent, topics in TOPICS.items()
        for words in topics
        for frame in FRAMES
    ]
    return TrainingData(examples=examples)


def _with(data: TrainingData, *more: Example) -> TrainingData:
    return dataclasses.replace(data, examples=[*data.examples, *more])


@pytest.fixture(scope="module")
def base_model() -> BuiltinModel:
    return train_data(_base(), classifier=SPARSE)


def test_a_few_added_examples_reuse_the_tuning_and_fit_once(
    base_model: BuiltinModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    more = _with(
        _base(), Example("my balance pls", "check_balance"), Example("card missing", "card_lost")
    )
    model = train_data(more, classifier=SPARSE, previous=base_model)
    info = model.meta["training"]
    assert info["kind"] == "incremental" and info["added"] == 2 and info["crf_kept"]
    assert info["tuned_on_examples"] == 120
    for name in ("threshold", "temperature", "fallback_base", "unknown_power", "sim_weight"):
        assert getattr(model.classifier, name) == getattr(base_model.classifier, name)
    assert model.crf is base_model.crf
    # the classifier itself is refitted on all the data: the final fit of a full training's
    # problem, started from the previous weights (to the solver's tolerance), or exactly that
    # fit without the warm start
    texts = [normalise_text(e.text) for e in more.examples]
    fresh = IntentClassifier(SPARSE)
    fresh._fit_core(texts, [e.intent for e in more.examples])
    assert np.abs(model.classifier.decision(texts) - fresh.decision(texts)).max() < 0.05
    assert model.parse_sync("card missing").intent == "card_lost"
    monkeypatch.setattr(incremental, "WARM", False)
    exact = train_data(more, classifier=SPARSE, previous=base_model)
    assert exact.classifier._weights is not None and fresh._weights is not None
    assert np.array_equal(exact.classifier._weights, fresh._weights)


def test_a_full_training_records_itself(base_model: BuiltinModel) -> None:
    assert base_model.meta["training"]["kind"] == "full"
    assert base_model.basis is not None and len(base_model.basis.examples) == 120


def _removed(d: TrainingData) -> TrainingData:
    return dataclasses.replace(d, examples=d.examples[1:])


def _edited(d: TrainingData) -> TrainingData:
    first = dataclasses.replace(d.examples[0], text="what about my balance!")
    return dataclasses.replace(d, examples=[first, *d.examples[1:]])


def _relabelled(d: TrainingData) -> TrainingData:
    first = dataclasses.replace(d.examples[0], intent="card_lost")
    return dataclasses.replace(d, examples=[first, *d.examples[1:]])


def _new_intent(d: TrainingData) -> TrainingData:
    return _with(d, Example("open a deposit", "new_intent"))


def _too_many(d: TrainingData) -> TrainingData:
    return _with(d, *[Example(f"balance {i}", "check_balance") for i in range(3)])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_removed, "removed or changed"),
        (_edited, "removed or changed"),
        (_relabelled, "removed or changed"),
        (_new_intent, "intents changed"),
        (_too_many, "over 2%"),
    ],
)
def test_other_data_changes_train_in_full(
    base_model: BuiltinModel, change: Callable[[TrainingData], TrainingData], reason: str
) -> None:
    data = change(_base())
    model = train_data(data, classifier=SPARSE, previous=base_model)
    assert model.meta["training"]["kind"] == "full"
    assert reason in model.meta["training"]["reason"]


def test_changed_settings_or_validation_data_train_in_full(base_model: BuiltinModel) -> None:
    more = _with(_base(), Example("my balance pls", "check_balance"))
    other = dataclasses.replace(SPARSE, c=0.5)
    model = train_data(more, classifier=other, previous=base_model)
    assert model.meta["training"]["kind"] == "full"
    assert "settings changed" in model.meta["training"]["reason"]
    val = TrainingData(
        examples=[Example("balance?", "check_balance"), Example("lost it", "card_lost")]
    )
    model = train_data(more, classifier=SPARSE, val=val, previous=base_model)
    assert model.meta["training"]["reason"] == "the validation data changed"


def test_drift_is_counted_from_the_last_full_training(base_model: BuiltinModel) -> None:
    one = _with(_base(), Example("my balance pls", "check_balance"))
    step1 = train_data(one, classifier=SPARSE, previous=base_model)
    two = _with(one, Example("card missing", "card_lost"))
    step2 = train_data(two, classifier=SPARSE, previous=step1)
    assert step2.meta["training"]["kind"] == "incremental"
    three = _with(two, Example("wire it", "transfer"))
    step3 = train_data(three, classifier=SPARSE, previous=step2)
    assert step3.meta["training"]["kind"] == "full"  # 3 of 120 since the full one


def test_an_annotated_new_example_retrains_the_crf(base_model: BuiltinModel) -> None:
    text = "send money to anna"
    ex = Example(text, "transfer", (EntitySpan("person", "anna", 14, 18, "anna"),))
    model = train_data(_with(_base(), ex), classifier=SPARSE, previous=base_model)
    assert model.meta["training"]["kind"] == "incremental"
    assert not model.meta["training"]["crf_kept"] and model.crf is not base_model.crf
    assert model.crf.trained


def test_the_basis_survives_the_model_file(base_model: BuiltinModel, tmp_path: Path) -> None:
    path = tmp_path / "nlu.model"
    assert previous_model(path) is None  # no file: a full training
    base_model.save(path)
    loaded = previous_model(path)
    assert loaded is not None and loaded.basis == base_model.basis
    more = _with(_base(), Example("my balance pls", "check_balance"))
    model = train_data(more, classifier=SPARSE, previous=loaded)
    assert model.meta["training"]["kind"] == "incremental"
    path.write_bytes(b"not a model")
    assert previous_model(path) is None  # a broken file: a full training


def test_the_cascade_keeps_its_gate_and_thresholds(tiny_data: Path) -> None:
    from nlu.training_data import load_data

    data = load_data([tiny_data])
    first = train_data(data)
    model = train_data(data, previous=first)  # the same data: nothing added
    assert model.meta["training"]["kind"] == "incremental"
    old, new = first.classifier.cascade, model.classifier.cascade
    assert old is not None and new is not None
    assert new.gate == old.gate and new.full.threshold == old.full.threshold
    assert model.threshold == first.threshold


def test_the_cli_trains_incrementally_unless_told_full(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "nlu.model"
    assert main(["train", str(tiny_data), "--out", str(out), "--quiet"]) == 0
    assert load_model(out).meta["training"]["kind"] == "full"
    assert main(["train", str(tiny_data), "--out", str(out), "--quiet"]) == 0
    assert load_model(out).meta["training"]["kind"] == "incremental"
    assert main(["train", str(tiny_data), "--out", str(out), "--quiet", "--full"]) == 0
    assert load_model(out).meta["training"] == {
        "kind": "full", "reason": "asked for (--full)", "added": None, "crf_kept": False,
        "tuned_on_examples": 24,
    }  # fmt: skip


def test_changed_lookups_keep_the_tuning_but_retrain_the_crf(base_model: BuiltinModel) -> None:
    data = dataclasses.replace(_base(), lookups={"bank": ["monobank", "privatbank"]})
    model = train_data(data, classifier=SPARSE, previous=base_model)
    assert model.meta["training"]["kind"] == "incremental"
    assert not model.meta["training"]["crf_kept"] and model.crf is not base_model.crf


def test_the_same_validation_data_allows_reuse() -> None:
    val = TrainingData([Example("balance?", "check_balance"), Example("lost it", "card_lost")])
    first = train_data(_base(), classifier=SPARSE, val=val)
    more = _with(_base(), Example("my balance pls", "check_balance"))
    model = train_data(more, classifier=SPARSE, val=val, previous=first)
    assert model.meta["training"]["kind"] == "incremental"
    assert model.threshold == first.threshold
