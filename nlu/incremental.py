"""Incremental retraining: when the new data is the previous model's data plus a few examples,
keep what a full training would compute again from nearly the same data.

A full training fits each linear SVM twice: on an 85% split, to tune the temperature, the
fallback parameters, the thresholds and the cascade's gate on the rest, then on all the data.
Adding a few examples to thousands moves none of those tuned figures beyond noise, so an
incremental training reuses them and runs only the final fits: the same problems a full
training ends with, each started from the previous model's weights (`start_from`; LIBLINEAR's
primal solver, `nlu.linear`), which are near the new optimum when a few examples were added
(nlu/README.md, "Training time"). The entity CRF is kept as it is when no new example is
annotated and the lookups and regexes are the same.

Reuse is refused (a full training runs) when an example was removed or changed, an intent
appeared or went, the classifier, extractor or CRF settings or the validation data differ, the
sentence encoder differs, or the examples added since the last full training exceed
``MAX_ADDED`` of its examples (drift accumulates over incremental steps; it is counted from
the last full training).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from nlu.training_data import Example, TrainingData

if TYPE_CHECKING:
    from nlu.classifier import ClassifierConfig, IntentClassifier
    from nlu.crf import CrfEntityExtractor
    from nlu.extractors import ExtractorConfig
    from nlu.vectors import WordVectors

MAX_ADDED = 0.02  # of the examples of the last full training
# Refits start from the previous model's weights (`start_from`); False: from zero, with
# scikit-learn's solver, exactly the final fits of a full training (benchmark comparisons).
WARM = True
Matrix = npt.NDArray[np.float32]


def example_key(ex: Example) -> str:
    """An example as the model sees it: intent and annotated text (file and line aside)."""
    return hashlib.sha256(f"{ex.intent}\t{ex.annotated()}".encode()).hexdigest()[:16]


def _digest(obj: Any) -> str:
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def settings_hash(
    classifier: ClassifierConfig, extractors: ExtractorConfig, crf: Any, encoder: Any
) -> str:
    """What a model's training depends on besides its data: the classifier's, extractors' and
    CRF's settings and the sentence encoder (the vector cache's folder aside)."""
    cls = dataclasses.asdict(classifier)
    cls["dense"].pop("cache_dir", None)
    return _digest([cls, dataclasses.asdict(extractors), dataclasses.asdict(crf), encoder])


def rules_hash(data: TrainingData) -> str:
    """The regexes and lookup tables (rule extractor and CRF features)."""
    return _digest(
        [sorted((k, sorted(v)) for k, v in data.regexes.items()),
         sorted((k, sorted(v)) for k, v in data.lookups.items())]
    )  # fmt: skip


def val_hash(val: TrainingData | None) -> str | None:
    """The validation data the tuning ran on (None: a hold-out of the training data)."""
    if val is None:
        return None
    return _digest(sorted(example_key(e) for e in val.examples))


@dataclass
class Basis:
    """What a model was trained from, kept in its file for the next training to compare with.
    ``tuned_examples``: how many examples the last full training (whose tuning is in use) had."""

    examples: list[str]
    settings: str
    rules: str
    val: str | None
    tuned_examples: int


@dataclass
class Plan:
    """The decision: reuse the previous model's tuning (``reuse``), and its CRF
    (``keep_crf``), or a full training, with the reason in words."""

    reuse: bool
    reason: str
    tuned_examples: int  # the examples of the full training whose tuning the model uses
    added: list[Example] = dataclasses.field(default_factory=list)
    keep_crf: bool = False

    def record(self, crf_kept: bool) -> dict[str, Any]:
        """The model's ``meta["training"]``."""
        return {
            "kind": "incremental" if self.reuse else "full",
            "reason": self.reason,
            "added": len(self.added) if self.reuse else None,
            "crf_kept": crf_kept,
            "tuned_on_examples": self.tuned_examples,
        }


def make_basis(
    data: TrainingData, val: TrainingData | None, settings: str, tuned_examples: int
) -> Basis:
    keys = [example_key(e) for e in data.examples]
    return Basis(keys, settings, rules_hash(data), val_hash(val), tuned_examples)


def plan(
    previous: Basis | None,
    labels: Sequence[str],
    data: TrainingData,
    val: TrainingData | None,
    settings: str,
) -> Plan:
    """Whether the data and settings allow an incremental training from ``previous`` (the
    previous model's basis, ``labels`` its intents)."""
    n = len(data.examples)
    if previous is None:
        return Plan(False, "no previous model to start from", n)
    if previous.settings != settings:
        return Plan(False, "the classifier, extractor, CRF or encoder settings changed", n)
    if previous.val != val_hash(val):
        return Plan(False, "the validation data changed", n)
    rules_same = previous.rules == rules_hash(data)
    new = Counter(example_key(e) for e in data.examples)
    missing = Counter(previous.examples) - new
    if missing:
        return Plan(False, f"{sum(missing.values())} previous example(s) removed or changed", n)
    if set(labels) != {e.intent for e in data.examples}:
        return Plan(False, "the intents changed", n)
    extra = new - Counter(previous.examples)
    added = []
    for e in data.examples:
        k = example_key(e)
        if extra[k] > 0:
            extra[k] -= 1
            added.append(e)
    drift = n - previous.tuned_examples
    if drift > MAX_ADDED * previous.tuned_examples:
        return Plan(False, f"{drift} examples added since the last full training (over 2%)", n)
    keep_crf = rules_same and not any(e.entities for e in added)
    return Plan(True, f"{len(added)} example(s) added", previous.tuned_examples, added, keep_crf)


def refit(
    previous: IntentClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    table: WordVectors | None,
) -> IntentClassifier:
    """A classifier fitted on all of ``texts`` (the final fits of a full training) with the
    temperature, fallback parameters, threshold and cascade gate of ``previous``; each SVM
    started from ``previous``'s weights when `WARM` (`start_from`)."""
    from nlu.cascade import Cascade, fit_both
    from nlu.classifier import IntentClassifier

    clf = IntentClassifier(previous.config)
    old = previous.cascade
    # a gate of 0 sends no message to the encoder model: it is kept unfitted again
    full = clf._encoder_model() if old is not None and old.gate > 0 else None
    if not WARM:
        fit_both(clf, full, texts, labels, table)
    elif full is None or old is None:
        clf._fit_core(texts, labels, table, warm=start_from(previous))
    else:  # as `fit_both`: the cheap model's fit in a child process beside the encoder model's
        later: list[Callable[[], None]] = []
        shared = clf._fit_core(texts, labels, table, later=later, warm=start_from(previous))
        old_full = cast("IntentClassifier", old.full)  # the cascade's, a classifier too
        full._fit_core(texts, labels, sparse_fit=shared, warm=start_from(old_full))
        for step in later:
            step()
    _copy_tuning(previous, clf)
    if old is not None:
        if full is not None:
            _copy_tuning(old.full, full)
        clf.cascade = Cascade(full if full is not None else old.full, old.gate, dict(old.info))
    return clf


def start_from(
    previous: IntentClassifier,
) -> Callable[[IntentClassifier, int], tuple[Matrix, Matrix]]:
    """The warm start of a refit (`nlu.linear.fit_linear`'s ``init``): ``previous``'s weights
    on the new model's features, matched by n-gram (a feature the previous model did not have
    starts at 0), and its dense weights and biases, in the training's scale (the pair and dense
    blocks' weights unscaled). Called with the new classifier once its features are fitted, and
    the width of its sparse blocks."""

    def start(new: IntentClassifier, n_sparse: int) -> tuple[Matrix, Matrix]:
        weights, bias = previous._weights, previous._bias
        if weights is None or bias is None or list(previous.labels) != sorted(previous.labels):
            raise ValueError("the previous classifier is not trained")
        dense = new._dense.dim if new._dense is not None else 0
        # built feature by feature (rows), handed over transposed (intents × features)
        by_feature = np.zeros((n_sparse + dense, len(bias)), dtype=np.float32)
        pair_scale = new.config.pair_weight or 1.0
        blocks = [
            (previous._word_vocab, new._word_vocab, 1.0),
            (previous._char_vocab, new._char_vocab, 1.0),
            (previous._pair_vocab, new._pair_vocab, pair_scale),
        ]
        old_at = new_at = 0
        for old_vocab, new_vocab, scale in blocks:
            both = [(j, old_vocab[g]) for g, j in new_vocab.items() if g in old_vocab]
            if both:
                cols, rows = np.array(both, dtype=np.int64).T
                by_feature[new_at + cols] = weights[old_at + rows] / np.float32(scale)
            old_at, new_at = old_at + len(old_vocab), new_at + len(new_vocab)
        dense_w = previous._dense_w
        if dense and dense_w is not None and dense_w.shape[0] == dense:
            by_feature[n_sparse:] = dense_w / np.float32(new.config.dense.weight or 1.0)
        return by_feature.T, np.asarray(bias, dtype=np.float32)

    return start


def _copy_tuning(src: Any, dst: Any) -> None:
    if list(src.labels) != list(dst.labels):
        raise ValueError("the refitted classifier's intents differ from the previous model's")
    for name in ("temperature", "threshold", "fallback_base", "unknown_power", "sim_weight"):
        setattr(dst, name, getattr(src, name))


def keep_or_fit_crf(
    keep: bool, previous: CrfEntityExtractor | None, examples: Sequence[Example], rules: Any
) -> Callable[[], CrfEntityExtractor]:
    """The call that gives the previous CRF when ``keep``, else one fitted on ``examples`` (in
    a child process on the second core meanwhile: `CrfEntityExtractor.fit_later`)."""
    from nlu.crf import CrfEntityExtractor

    if keep and previous is not None:
        return lambda: previous
    return CrfEntityExtractor().fit_later(examples, rules=rules)
