"""The n-grams a message is described by (words, word pairs, characters within words) and
the TF-IDF block they add to its feature vector: the arithmetic behind
`nlu.classifier.IntentClassifier`."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable
from typing import cast


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
