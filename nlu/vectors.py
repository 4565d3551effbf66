"""A static word-vector table distilled from the sentence encoder (as model2vec does: each
vocabulary word of the training data encoded once), kept inside the model file, so that a parse
needs a table lookup instead of the encoder.

Words outside the table get the average of the vectors of their character 3-5-grams (each
n-gram's vector is the mean of the table words that contain it, computed at training time): a
typo, an inflected form or a compound still lands near its relatives. A message's vector is the
IDF-weighted mean of its word vectors after removing the table's common direction (the mean
word vector: every e5 vector shares a large component that says nothing about intent), then
L2-normalised.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
_TOKEN_RE = re.compile(r"\w+(?:['-]\w+)*")
_WORD_RE = re.compile(r"\w+")
_APOS = re.compile(r"[’`ʼ‘]")
_DIGIT = re.compile(r"\d")
NGRAMS = (3, 5)


def tokens(text: str) -> list[str]:
    """The lower-cased words of a text that can have a vector (no digits), in order; a word
    with an inner apostrophe or hyphen also gives its parts ("don't": "don't", "don", "t")."""
    low = _APOS.sub("'", text.lower())
    out: list[str] = []
    for tok in _TOKEN_RE.findall(low):
        if _DIGIT.search(tok):
            continue
        out.append(tok)
        if "'" in tok or "-" in tok:
            out += _WORD_RE.findall(tok)
    return out


def vocabulary(texts: Iterable[str]) -> list[str]:
    """Every distinct word of ``texts`` (`tokens`), sorted."""
    words: set[str] = set()
    for t in texts:
        words.update(tokens(t))
    return sorted(words)


def _grams(word: str) -> list[str]:
    w = f"<{word}>"
    lo, hi = NGRAMS
    return [w[i : i + n] for n in range(lo, hi + 1) for i in range(len(w) - n + 1)]


class WordVectors:
    """The table: ``word(token)`` is a unit vector (or None), ``sentence(text)`` the message's
    vector. Built by `WordVectors.build` from the encoder's vectors of the vocabulary."""

    def __init__(
        self,
        words: Sequence[str],
        vectors: npt.NDArray[np.floating],
        idf: dict[str, float] | None = None,
    ) -> None:
        mat = np.asarray(vectors, dtype=np.float32)
        self.dim: int = int(mat.shape[1]) if mat.ndim == 2 else 0
        self._index = {w: i for i, w in enumerate(words)}
        self._table = mat
        self._centre = mat.mean(axis=0) if len(words) else np.zeros(self.dim, np.float32)
        self._idf = dict(idf or {})
        self._default_idf = max(self._idf.values()) if self._idf else 1.0
        self._grams, self._gram_vecs = self._gram_table(words, mat)
        self._oov: dict[str, Vector | None] = {}

    @classmethod
    def build(
        cls, words: Sequence[str], vectors: npt.NDArray[np.floating], texts: Sequence[str]
    ) -> WordVectors:
        """The table for ``words`` (their encoder vectors), weighted by IDF over ``texts``."""
        df: dict[str, int] = defaultdict(int)
        for t in texts:
            for w in set(tokens(t)):
                df[w] += 1
        n = len(texts)
        idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}
        return cls(words, vectors, idf)

    @staticmethod
    def _gram_table(
        words: Sequence[str], mat: npt.NDArray[np.float32]
    ) -> tuple[dict[str, int], npt.NDArray[np.float32]]:
        """Each character n-gram's vector: the mean of the table words containing it (derived
        from the table, so not stored in the model file but rebuilt at load)."""
        from scipy import sparse

        grams: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for i, w in enumerate(words):
            for g in set(_grams(w)):
                rows.append(grams.setdefault(g, len(grams)))
                cols.append(i)
        if not grams:
            return grams, np.zeros((0, mat.shape[1] if mat.ndim == 2 else 0), dtype=np.float32)
        member = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(grams), len(words))
        )
        counts = np.asarray(member.sum(axis=1), dtype=np.float32)
        return grams, np.asarray(member @ mat, dtype=np.float32) / counts

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        for derived in ("_grams", "_gram_vecs", "_oov"):
            del state[derived]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._grams, self._gram_vecs = self._gram_table(list(self._index), self._table)
        self._oov = {}

    def __len__(self) -> int:
        return len(self._index)

    def known(self, token: str) -> bool:
        """The token is in the table itself (not only reachable through its n-grams)."""
        return token in self._index

    def word(self, token: str) -> Vector | None:
        """The vector of a lower-cased, normalised token: the table's, else the mean of its
        known character n-grams' (unit length); None when neither exists."""
        i = self._index.get(token)
        if i is not None:
            row: Vector = self._table[i]
            return row
        if token in self._oov:
            return self._oov[token]
        ids = [k for k in map(self._grams.get, _grams(token)) if k is not None]
        vec: Vector | None = None
        if ids:
            mean = self._gram_vecs[ids].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            vec = (mean / norm).astype(np.float32) if norm > 0 else None
        if len(self._oov) > 50_000:
            self._oov.clear()
        self._oov[token] = vec
        return vec

    def sentence(self, text: str) -> Vector:
        """The message's vector (unit length; zeros when no word has a vector)."""
        acc = np.zeros(self.dim, dtype=np.float32)
        total = 0.0
        for tok in tokens(text):
            vec = self.word(tok)
            if vec is None:
                continue
            weight = self._idf.get(tok, self._default_idf)
            acc += weight * (vec - self._centre)
            total += weight
        norm = float(np.linalg.norm(acc))
        return acc / norm if norm > 0 and total > 0 else acc

    def sentences(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """`sentence` of each text, one row each."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self.sentence(t)
        return out
