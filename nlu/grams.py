"""The n-grams a message is described by (words, word pairs, characters within words) and
the TF-IDF block they add to its feature vector: the arithmetic behind
`nlu.classifier.IntentClassifier`."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt


@functools.lru_cache(maxsize=65536)
def word_char_grams(word: str, lo: int, hi: int) -> tuple[str, ...]:
    # Words repeat across messages: caching their n-grams halves the feature cost.
    w = f" {word} "
    grams: list[str] = []
    for n in range(lo, hi + 1):
        if n >= len(w):
            grams.append(w)
            break
        grams += [w[i : i + n] for i in range(len(w) - n + 1)]
    return tuple(grams)


def word_grams(tokens: list[str], lo: int, hi: int) -> list[str]:
    grams = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def pair_grams(tokens: list[str], window: int) -> list[str]:
    n = len(tokens)
    return [
        f"{tokens[i]}~{tokens[j]}" for i in range(n) for j in range(i + 2, min(n, i + window + 1))
    ]


@dataclass
class SparseVocab:
    """The fitted TF-IDF vocabularies and IDF of the word, character and pair blocks."""

    word_vocab: dict[str, int]
    char_vocab: dict[str, int]
    word_idf: npt.NDArray[np.float64]
    char_idf: npt.NDArray[np.float64]
    pair_vocab: dict[str, int]
    pair_idf: npt.NDArray[np.float64]
    pair_window: int


def fit_sparse(
    texts: Sequence[str],
    cfg: Any,
    preprocessor: Callable[[str], str],
    token_pattern: str,
    pair_analyzer: Callable[[str], list[str]],
) -> tuple[list[Any], SparseVocab]:
    """Fit the TF-IDF blocks (``cfg``: a `nlu.classifier.ClassifierConfig`); return their
    matrices (the pair block already times ``pair_weight``) and vocabularies."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(
        preprocessor=preprocessor, ngram_range=cfg.word_ngrams, sublinear_tf=True,
        token_pattern=token_pattern, dtype=np.float32,
    )  # fmt: skip
    char = TfidfVectorizer(
        preprocessor=preprocessor, analyzer="char_wb", ngram_range=cfg.char_ngrams,
        sublinear_tf=True, min_df=2 if len(texts) > 2000 else 1, dtype=np.float32,
    )  # fmt: skip
    blocks = [word.fit_transform(texts), char.fit_transform(texts)]
    pair_vocab: dict[str, int] = {}
    pair_idf, pair_window = np.zeros(0), 0
    if cfg.pair_window >= 2 and len(texts) >= cfg.pair_min_examples:
        pairs = TfidfVectorizer(
            analyzer=pair_analyzer, sublinear_tf=True, min_df=2, dtype=np.float32
        )
        try:
            blocks.append(pairs.fit_transform(texts) * np.float32(cfg.pair_weight))
            pair_vocab = {str(k): int(v) for k, v in pairs.vocabulary_.items()}
            pair_idf = np.asarray(pairs.idf_, dtype=np.float64)
            pair_window = cfg.pair_window
        except ValueError:  # no pair occurs twice: no pair features
            pass
    vocab = SparseVocab(
        {str(k): int(v) for k, v in word.vocabulary_.items()},
        {str(k): int(v) for k, v in char.vocabulary_.items()},
        np.asarray(word.idf_, dtype=np.float64), np.asarray(char.idf_, dtype=np.float64),
        pair_vocab, pair_idf, pair_window,
    )  # fmt: skip
    return blocks, vocab


def add_block(
    ids: list[int], vals: list[float], found: Iterable[int | None], idf: list[float], offset: int
) -> None:
    """Append one block's features: sublinear TF * IDF, L2-normalised over the known grams."""
    with_none: Counter[int | None] = Counter(found)
    with_none.pop(None, None)
    counts = cast("Counter[int]", with_none)
    if not counts:
        return
    log = math.log
    block = [idf[i] if c == 1 else (1.0 + log(c)) * idf[i] for i, c in counts.items()]
    norm = math.sqrt(sum([v * v for v in block]))
    ids.extend([i + offset for i in counts] if offset else counts)
    vals.extend([v / norm for v in block])


class Runtime:
    """Per-process lookup tables for parsing: IDF as Python floats, block offsets, and the
    character n-gram ids of words seen before (bounded)."""

    CACHE_LIMIT = 200_000

    def __init__(
        self,
        clf: Any,
        weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
    ) -> None:
        self.weights, self.bias = weights, bias
        self.bias64 = bias.astype(np.float64)
        self.word_idf: list[float] = clf._word_idf.tolist()
        self.char_idf: list[float] = clf._char_idf.tolist()
        self.pair_idf: list[float] = clf._pair_idf.tolist() if clf._pair_window else []
        self.char_offset = len(clf._word_vocab)
        # Character ids are cached with the block offset applied; index their IDF the same way.
        self.char_idf_global: list[float] = [0.0] * self.char_offset + self.char_idf
        self.pair_offset = self.char_offset + len(clf._char_vocab)
        self.unseen = float(clf._word_idf.max()) if len(clf._word_idf) else 1.0
        self._char_vocab = clf._char_vocab
        self._char_ngrams = clf.config.char_ngrams
        self.char_cache: dict[str, list[int]] = {}

    def char_ids(self, word: str) -> list[int]:
        """Vocabulary ids of the word's known character n-grams (with repeats), cached."""
        vocab, off = self._char_vocab, self.char_offset
        grams = word_char_grams(word, *self._char_ngrams)
        found = [i + off for i in map(vocab.get, grams) if i is not None]
        if len(self.char_cache) >= self.CACHE_LIMIT:
            self.char_cache.clear()
        self.char_cache[word] = found
        return found
