"""Trained entity extraction: a linear-chain CRF (sklearn-crfsuite) over BIO tags."""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pycrfsuite

from nlu.training_data import Example
from nlu.types import Entity

_TOKEN_RE = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
Token = tuple[str, int, int]


def tokenize(text: str) -> list[Token]:
    """Words (keeping inner hyphens/apostrophes) and punctuation, with character offsets."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _shape(word: str) -> str:
    return "".join(
        "A" if c.isupper() else "a" if c.isalpha() else "0" if c.isdigit() else c for c in word[:6]
    )


_OFFSETS = (-2, -1, 1, 2)
_EDGES = {off: f"{off}:edge" for off in _OFFSETS}


@functools.lru_cache(maxsize=65536)
def _word_features(word: str) -> tuple[tuple[str, ...], dict[int, tuple[str, str]]]:
    """A word's own features and what it contributes as a neighbour, as CRFsuite strings."""
    low = word.lower()
    own = [
        "bias", f"low={low}", f"suf3={low[-3:]}", f"suf2={low[-2:]}", f"pre3={low[:3]}",
        f"shape={_shape(word)}", f"len={min(len(word), 8)}",
    ]  # fmt: skip
    if word.isdigit():
        own.append("digit")
    if word.istitle():
        own.append("title")
    ctx = {off: (f"{off}:low={low}", f"{off}:suf3={low[-3:]}") for off in _OFFSETS}
    return tuple(own), ctx


def _features(tokens: list[Token]) -> list[list[str]]:
    """Per token: its own features plus its neighbours' words and suffixes (window of 2)."""
    words = [_word_features(t[0]) for t in tokens]
    out = []
    for i, (own, _) in enumerate(words):
        f = list(own)
        for off in _OFFSETS:
            j = i + off
            if 0 <= j < len(words):
                f += words[j][1][off]
            else:
                f.append(_EDGES[off])
        out.append(f)
    return out


def _bio(tokens: list[Token], ex: Example) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in ex.entities:
        label = span.entity + (f".{span.role}" if span.role else "")
        inside = [i for i, (_, s, e) in enumerate(tokens) if s >= span.start and e <= span.end]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + label
    return tags


class CrfEntityExtractor:
    """BIO-tagging CRF trained on the annotated examples.

    Trained with sklearn-crfsuite; only the CRFsuite model bytes are kept, and parsing uses a
    ``pycrfsuite.Tagger`` opened on them (no scikit-learn import, no temp files).
    """

    def __init__(self, c1: float = 0.05, c2: float = 0.05, max_iterations: int = 100) -> None:
        self.params = {"c1": c1, "c2": c2, "max_iterations": max_iterations}
        self._model: bytes | None = None
        self._tagger: pycrfsuite.Tagger | None = None

    @property
    def trained(self) -> bool:
        """Whether there were entity annotations to learn from."""
        return self._model is not None

    def __getstate__(self) -> dict[str, Any]:
        return {"params": self.params, "_model": self._model, "_tagger": None}

    def fit(self, examples: Sequence[Example]) -> CrfEntityExtractor:
        """Train on ``examples`` (all of them: unannotated ones teach the "O" tag)."""
        xs, ys = [], []
        for ex in examples:
            toks = tokenize(ex.text)
            if toks:
                xs.append(_features(toks))
                ys.append(_bio(toks, ex))
        if not any(t != "O" for y in ys for t in y):
            return self
        import sklearn_crfsuite

        with tempfile.TemporaryDirectory() as tmp:
            crf = sklearn_crfsuite.CRF(
                algorithm="lbfgs", all_possible_transitions=True,
                model_filename=str(Path(tmp) / "crf.model"), **self.params,
            )  # fmt: skip
            crf.fit(xs, ys)
            self._model = (Path(tmp) / "crf.model").read_bytes()
        return self

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

    def extract(self, text: str) -> list[Entity]:
        """Entities in one text."""
        if self._model is None:
            return []
        toks = tokenize(text)
        if not toks:
            return []
        tagger = self._get_tagger()
        tagger.set(_features(toks))
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
