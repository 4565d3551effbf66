"""Dense sentence features for the intent classifier, and the dense out-of-scope signal.

A message's dense vector comes from the static word-vector table (`nlu.vectors`: table lookups,
every message) or, with ``source = "encoder"``, from the sentence encoder itself (about 20 ms of
CPU per message; training reads its vectors from the on-disk cache). It is appended, times
``weight``, to the TF-IDF blocks of the same linear SVM.

The out-of-scope signal is the cosine similarity of the message's vector to the nearest
training example of the intent the classifier ranks first: an out-of-scope message can win an
intent by a few shared words while being far from everything that intent was taught with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from nlu.vectors import WordVectors, vocabulary

if TYPE_CHECKING:
    from nlu.encoder import Encoder, VectorCache

Matrix = npt.NDArray[np.float32]
SOURCES = ("none", "static", "encoder")


@dataclass
class DenseConfig:
    """Where dense features come from and how much they weigh (chosen on validation data:
    nlu/README.md, "Encoder")."""

    source: str = "static"
    weight: float = 1.0  # the static table's block (bundled, BANKING77: 1 beat 3)
    encoder_weight: float = 3.0  # the encoder's block in the cascade's model
    # Weights of the nearest-example similarity in the fallback score, tried on validation
    # data with enough out-of-scope examples (0 = the classifier's score alone).
    sim_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    cache_dir: Path | None = None  # None: `nlu.encoder.default_cache_dir`


_ENCODER: list[Encoder] = []


def shared_encoder() -> Encoder:
    """One `nlu.encoder.Encoder` per process (loaded on first use)."""
    from nlu.encoder import Encoder

    if not _ENCODER:
        _ENCODER.append(Encoder())
    return _ENCODER[0]


_CACHES: dict[Path | None, VectorCache] = {}


def shared_cache(folder: Path | None) -> VectorCache:
    """One `nlu.encoder.VectorCache` per folder and process (read from disk once)."""
    from nlu.encoder import VectorCache

    if folder not in _CACHES:
        _CACHES[folder] = VectorCache(shared_encoder(), folder)
    return _CACHES[folder]


def write_seed() -> Path:
    """Ship the bundled training data's vectors (its sentences and vocabulary) in the package
    (`nlu.encoder.SEED_DIRS`): run after the bundled data changes, and commit the shard."""
    from nlu.encoder import SEED_DIRS
    from nlu.normalise import normalise_text
    from nlu.training_data import load_data

    bundled = Path(__file__).parent / "data" / "train"  # nlu.model.bundled_data_path
    texts = [normalise_text(e.text) for e in load_data([bundled]).examples]
    unique = sorted(set(texts) | set(vocabulary(texts)))
    return shared_cache(None).export(unique, SEED_DIRS[0])


def build_table(texts: Sequence[str], cfg: DenseConfig) -> WordVectors:
    """Distil the word table of ``texts``: each vocabulary word encoded once (cached)."""
    words = vocabulary(texts)
    vecs = shared_cache(cfg.cache_dir).encode(words)
    return WordVectors.build(words, vecs, texts)


class DenseFeatures:
    """Turns messages into dense rows (unit vectors; the weight is applied by the caller)."""

    def __init__(self, source: str, table: WordVectors | None, cache_dir: Path | None) -> None:
        if source not in SOURCES:
            raise ValueError(f"dense source must be one of {SOURCES}, not {source!r}")
        self.source = source
        self.table = table
        self.cache_dir = cache_dir
        self.dim = 0 if source == "none" else 384 if table is None else table.dim

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["cache_dir"] = None  # a training machine's path means nothing where it loads
        return state

    def matrix(self, texts: Sequence[str]) -> Matrix:
        """Rows of many texts (the encoder's from the cache)."""
        if self.source == "static" and self.table is not None:
            return self.table.sentences(texts)
        if self.source == "encoder":
            return shared_cache(self.cache_dir).encode(list(texts))
        return np.zeros((len(texts), self.dim), dtype=np.float32)

    def one(self, text: str) -> Matrix:
        """The row of one message (parse time: no cache, the encoder runs when it is the
        source)."""
        if self.source == "static" and self.table is not None:
            return self.table.sentence(text)
        if self.source == "encoder":
            return shared_encoder().encode_one(text)
        return np.zeros(self.dim, dtype=np.float32)


class NearestExample:
    """Cosine similarity of a message's dense vector to the nearest training example of an
    intent (rows kept per intent, float16 to halve the model file)."""

    def __init__(self, rows: Matrix, labels: Sequence[str]) -> None:
        by: dict[str, list[int]] = {}
        for i, lab in enumerate(labels):
            by.setdefault(lab, []).append(i)
        self._rows = {lab: rows[idx].astype(np.float16) for lab, idx in by.items()}

    def similarity(self, vec: Matrix, label: str) -> float:
        """Highest cosine between ``vec`` (unit length) and ``label``'s training examples."""
        rows = self._rows.get(label)
        if rows is None or not len(rows):
            return 0.0
        return float((rows.astype(np.float32) @ vec).max())

    def similarities(self, vecs: Matrix, labels: Sequence[str]) -> npt.NDArray[np.float64]:
        """`similarity` of each row of ``vecs`` to the intent given for it."""
        return np.array([self.similarity(v, lab) for v, lab in zip(vecs, labels, strict=True)])
