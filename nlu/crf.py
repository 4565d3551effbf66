"""Trained entity extraction: a linear-chain CRF (CRFsuite) over BIO tags.

Features (`nlu.crf_features`): the word, its affixes and shape and its neighbours'; membership
in a gazetteer of the data's lookup tables and annotated entity values (multi-token, B/I); the
rule extractors' spans (dates, phones, e-mails, order numbers, regexes, lookups). Word-vector
clusters were tried and gave nothing on SNIPS (`nlu/README.md`, Entities).
"""

from __future__ import annotations

import contextlib
import ctypes
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pycrfsuite

from nlu import background
from nlu.crf_features import Gazetteer, Span, Token, features, tokenize
from nlu.lang import detect_language
from nlu.training_data import Example
from nlu.types import Entity

if TYPE_CHECKING:
    from nlu.extractors import RuleExtractor

__all__ = ["CrfConfig", "CrfEntityExtractor", "tokenize"]
_RULE_REF = datetime(2000, 1, 3, 12, tzinfo=UTC)  # spans do not depend on the reference time


@dataclass(frozen=True)
class CrfConfig:
    """Training settings. ``algorithm``: "lbfgs" (``c1``, ``c2``, ``max_iterations``),
    "l2sgd" (``sgd_c2``, ``sgd_epochs``), or "auto": L-BFGS while the work of an iteration
    (tokens times labels squared) is under ``auto_limit``, else SGD, which gets as far in 10
    passes as L-BFGS in 50 (SNIPS: 13,784 examples, 79 labels). ``gazetteer_folds``: the
    annotated values that mark a training example come from the other folds only, so that the
    CRF learns how far a match is to be trusted on values it has not seen (0: lookups only)."""

    algorithm: str = "auto"
    c1: float = 0.05
    c2: float = 0.05
    max_iterations: int = 100
    sgd_c2: float = 0.5
    sgd_epochs: int = 10
    auto_limit: float = 5e7
    min_freq: int = 1
    gazetteer_folds: int = 2
    rule_spans: bool = True


def _seed_c_rand() -> None:
    """CRFsuite's SGD shuffles the examples with the C library's ``rand()``, which nothing
    seeds: a fit depended on how many fits the process had run before it (a retraining in the
    same process gave another CRF). Seeding it with 1, the C standard's initial seed, makes
    every fit the first fit of a fresh process, as before in `omnirelay nlu train`."""
    with contextlib.suppress(OSError, AttributeError):  # no C library to reach: as before
        ctypes.CDLL(None).srand(1)


def _bio(tokens: list[Token], ex: Example) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in ex.entities:
        label = span.entity + (f".{span.role}" if span.role else "")
        inside = [i for i, (_, s, e) in enumerate(tokens) if s >= span.start and e <= span.end]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + label
    return tags


def _values(examples: Sequence[Example]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ex in examples:
        for span in ex.entities:
            out.setdefault(span.entity, set()).add(ex.text[span.start : span.end])
    return out


def _fold_values(examples: Sequence[Example], k: int) -> list[dict[str, set[str]]]:
    """For each of ``k`` folds (example i is in fold i % k), the annotated values of the
    examples outside it; none for k < 2."""
    if k < 2:
        return []
    return [_values([ex for i, ex in enumerate(examples) if i % k != fold]) for fold in range(k)]


def _gazetteer(lookups: Mapping[str, Sequence[str]], values: Mapping[str, set[str]]) -> Gazetteer:
    merged = {k: set(v) for k, v in lookups.items()}
    for k, v in values.items():
        merged.setdefault(k, set()).update(v)
    return Gazetteer(merged)


class CrfEntityExtractor:
    """BIO-tagging CRF trained on the annotated examples.

    Trained with CRFsuite; only the model bytes are kept, and parsing uses a
    ``pycrfsuite.Tagger`` opened on them (no scikit-learn import, no temp files).
    """

    def __init__(self, config: CrfConfig | None = None) -> None:
        self.config = config or CrfConfig()
        self._model: bytes | None = None
        self._tagger: pycrfsuite.Tagger | None = None
        self.params: dict[str, Any] = {}  # what the last fit used, "algorithm" included
        self._gazetteer: Gazetteer | None = None
        self._rules: RuleExtractor | None = None
        self.fit_cpu_seconds: float | None = None  # CPU time of the last fit (this process)

    def _params(self, algorithm: str) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {"feature.minfreq": c.min_freq, "feature.possible_transitions": True}
        if algorithm == "l2sgd":
            return {**out, "c2": c.sgd_c2, "max_iterations": c.sgd_epochs}
        return {**out, "c1": c.c1, "c2": c.c2, "max_iterations": c.max_iterations}

    def _algorithm(self, ys: Sequence[Sequence[str]]) -> str:
        if self.config.algorithm != "auto":
            return self.config.algorithm
        labels = len({t for y in ys for t in y})
        work = sum(map(len, ys)) * labels**2
        return "lbfgs" if work < self.config.auto_limit else "l2sgd"

    @property
    def trained(self) -> bool:
        """Whether there were entity annotations to learn from."""
        return self._model is not None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tagger": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        fresh = CrfEntityExtractor().__dict__  # attributes newer than the pickled model
        self.__dict__.update({**fresh, **state, "_tagger": None})

    def fit(
        self,
        examples: Sequence[Example],
        *,
        rules: RuleExtractor | None = None,
    ) -> CrfEntityExtractor:
        """Train on ``examples`` (all of them: unannotated ones teach the "O" tag). ``rules``:
        the model's rule extractors, whose spans (and lookup tables) become features."""
        cpu0 = time.process_time()
        cfg = self.config
        self._rules = rules if cfg.rule_spans else None
        lookups = dict(rules.lookups) if rules is not None else {}
        self._gazetteer = _gazetteer(lookups, _values(examples) if cfg.gazetteer_folds else {})
        if not any(ex.entities for ex in examples):  # nothing to learn: no features to compute
            self.fit_cpu_seconds = round(time.process_time() - cpu0, 2)
            return self
        folds = self._fold_gazetteers(examples, lookups)
        xs, ys = [], []
        for k, ex in enumerate(examples):
            toks = tokenize(ex.text)
            if toks:
                gaz = folds[k % len(folds)] if folds else self._gazetteer
                xs.append(self._features(ex.text, toks, gaz, None))
                ys.append(_bio(toks, ex))
        if any(t != "O" for y in ys for t in y):
            algorithm = self._algorithm(ys)
            self.params = {"algorithm": algorithm, **self._params(algorithm)}
            trainer = pycrfsuite.Trainer(algorithm=algorithm, verbose=False)
            for x, y in zip(xs, ys, strict=True):
                trainer.append(x, y)
            trainer.set_params(self._params(algorithm))
            with tempfile.TemporaryDirectory() as tmp:
                _seed_c_rand()
                trainer.train(str(Path(tmp) / "crf.model"))
                self._model = (Path(tmp) / "crf.model").read_bytes()
        self.fit_cpu_seconds = round(time.process_time() - cpu0, 2)
        return self

    def fit_later(
        self, examples: Sequence[Example], *, rules: RuleExtractor | None = None
    ) -> Callable[[], CrfEntityExtractor]:
        """`fit` in a child process on the second core (`nlu.background`), beside the
        classifier's training; returns the call that waits for it and gives this extractor,
        fitted. Without annotations (nothing to learn) the fit runs here at once."""
        if not any(ex.entities for ex in examples):
            self.fit(examples, rules=rules)
            return lambda: self
        job = background.start(lambda: self.fit(examples, rules=rules))

        def done() -> CrfEntityExtractor:
            fitted = job.result()
            if fitted is not self:  # a child's copy: its rules are the model's own extractor
                shared = rules if fitted._rules is not None else None
                self.__dict__.update({**fitted.__dict__, "_rules": shared})
            return self

        return done

    def _fold_gazetteers(
        self, examples: Sequence[Example], lookups: Mapping[str, Sequence[str]]
    ) -> list[Gazetteer]:
        return [_gazetteer(lookups, v) for v in _fold_values(examples, self.config.gazetteer_folds)]

    def _features(
        self,
        text: str,
        toks: list[Token],
        gazetteer: Gazetteer | None,
        rule_found: Sequence[Entity] | None,
    ) -> list[list[str]]:
        spans: list[Span] = []
        if self._rules is not None:
            if rule_found is None:
                lang = detect_language(text, default="en")
                rule_found = self._rules.extract(text, lang=lang, now=_RULE_REF, tz="UTC")
            spans = [(e.entity, e.start, e.end) for e in rule_found
                     if e.start is not None and e.end is not None]  # fmt: skip
        return features(toks, gazetteer, spans)

    def warm_up(self) -> None:
        """Open the tagger now rather than on the first message."""
        if self._model is not None:
            self._get_tagger()

    def _get_tagger(self) -> pycrfsuite.Tagger:
        if self._tagger is None:
            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self._model)
            self._tagger = tagger
        return self._tagger

    def extract_batch(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities for each text."""
        return [self.extract(text) for text in texts]

    def extract(self, text: str, rule_found: Sequence[Entity] | None = None) -> list[Entity]:
        """Entities in one text. ``rule_found``: the rule extractors' entities for this text,
        when the caller has them already (else the CRF runs its rules itself)."""
        if self._model is None:
            return []
        toks = tokenize(text)
        if not toks:
            return []
        tagger = self._get_tagger()
        tagger.set(self._features(text, toks, self._gazetteer, rule_found))
        tags = tagger.tag()
        probs = [tagger.marginal(tag, i) for i, tag in enumerate(tags)]
        return _decode(text, toks, tags, probs)


def _decode(text: str, toks: list[Token], tags: list[str], probs: list[float]) -> list[Entity]:
    ents: list[Entity] = []
    cur: tuple[str, int, int, list[float]] | None = None
    for (_, s, e), tag, p in zip(toks, tags, probs, strict=True):
        if tag.startswith("I-") and cur is not None and cur[0] == tag[2:]:
            cur = (cur[0], cur[1], e, [*cur[3], p])
            continue
        if cur is not None:
            ents.append(_entity(text, cur))
            cur = None
        if tag != "O":
            cur = (tag[2:], s, e, [p])
    if cur is not None:
        ents.append(_entity(text, cur))
    return ents


def _entity(text: str, cur: tuple[str, int, int, list[float]]) -> Entity:
    label, s, e, probs = cur
    name, _, role = label.partition(".")
    return Entity(
        entity=name, value=text[s:e], start=s, end=e, text=text[s:e],
        extractor="CRFEntityExtractor", role=role or None, confidence=min(probs),
    )  # fmt: skip
