"""Token features for the entity CRF (`nlu.crf`): the word and its neighbours, gazetteer
membership and the rule extractors' spans, as CRFsuite attribute strings."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

_TOKEN_RE = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")
# An English possessive or "is"/"us" clitic: "Chambers's album" -> "Chambers", "'s" (a SNIPS
# artist ends before it); Ukrainian apostrophes sit inside words ("п'ять") and never end in 's.
_CLITIC = re.compile(r"'s$", re.IGNORECASE)
Token = tuple[str, int, int]
Span = tuple[str, int, int]  # type, start, end (characters)
MAX_GAZ_TOKENS = 8


def tokenize(text: str) -> list[Token]:
    """Words (keeping inner hyphens/apostrophes, but splitting off a final "'s") and
    punctuation, with character offsets. Apostrophes are expected as ``'`` (`nlu.normalise`)."""
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        word, s, e = m.group(), m.start(), m.end()
        if len(word) > 2 and _CLITIC.search(word):
            out += [(word[:-2], s, e - 2), (word[-2:], e - 2, e)]
        else:
            out.append((word, s, e))
    return out


def _shape(word: str) -> str:
    return "".join(
        "A" if c.isupper() else "a" if c.isalpha() else "0" if c.isdigit() else c for c in word[:6]
    )


_OFFSETS = (-2, -1, 1, 2)
_EDGES = {off: f"{off}:edge" for off in _OFFSETS}


@functools.lru_cache(maxsize=65536)
def word_features(word: str) -> tuple[tuple[str, ...], dict[int, tuple[str, ...]]]:
    """A word's own features and what it contributes as a neighbour at each offset."""
    low = word.lower()
    own = [
        "bias", f"low={low}", f"suf3={low[-3:]}", f"suf2={low[-2:]}", f"pre3={low[:3]}",
        f"shape={_shape(word)}", f"len={min(len(word), 8)}",
    ]  # fmt: skip
    if word.isdigit():
        own.append("digit")
    if word.istitle():
        own.append("title")
    ctx: dict[int, tuple[str, ...]] = {
        off: (f"{off}:low={low}", f"{off}:suf3={low[-3:]}") for off in _OFFSETS
    }
    return tuple(own), ctx


class Gazetteer:
    """Phrases by entity type (lower-cased token tuples), matched over a token sequence: every
    match of every type marks its tokens ``gz:B-type`` / ``gz:I-type``."""

    def __init__(self, phrases: Mapping[str, Iterable[str]]) -> None:
        table: dict[tuple[str, ...], set[str]] = {}
        for typ, items in phrases.items():
            for phrase in items:
                key = tuple(t[0].lower() for t in tokenize(phrase))
                if 0 < len(key) <= MAX_GAZ_TOKENS:
                    table.setdefault(key, set()).add(typ)
        self.table = {k: tuple(sorted(v)) for k, v in table.items()}
        self.starts = {k[0] for k in table}
        self.longest = max((len(k) for k in table), default=0)

    def __len__(self) -> int:
        return len(self.table)

    def features(self, lows: Sequence[str]) -> list[list[str]]:
        """Per token, its membership features."""
        out: list[list[str]] = [[] for _ in lows]
        n = len(lows)
        for i in range(n):
            if lows[i] not in self.starts:
                continue
            for size in range(1, min(self.longest, n - i) + 1):
                for typ in self.table.get(tuple(lows[i : i + size]), ()):
                    out[i].append(f"gz:B-{typ}")
                    for j in range(i + 1, i + size):
                        out[j].append(f"gz:I-{typ}")
        return out


def span_features(tokens: Sequence[Token], spans: Iterable[Span]) -> list[list[str]]:
    """Per token, ``rule:B-type`` / ``rule:I-type`` for the rule spans that cover it."""
    out: list[list[str]] = [[] for _ in tokens]
    for typ, start, end in spans:
        inside = [i for i, (_, s, e) in enumerate(tokens) if s < end and e > start]
        for k, i in enumerate(inside):
            out[i].append(("rule:B-" if k == 0 else "rule:I-") + typ)
    return out


def features(
    tokens: Sequence[Token],
    gazetteer: Gazetteer | None = None,
    spans: Iterable[Span] = (),
) -> list[list[str]]:
    """Per token: its own features, its neighbours' words and suffixes (window of 2), its
    gazetteer and rule-span memberships (also the neighbours')."""
    words = [word_features(t[0]) for t in tokens]
    lows = [t[0].lower() for t in tokens]
    extra: list[list[str]] = [[] for _ in tokens]
    if gazetteer is not None and len(gazetteer):
        for i, feats in enumerate(gazetteer.features(lows)):
            extra[i] += feats
    for i, feats in enumerate(span_features(tokens, spans)):
        extra[i] += feats
    out = []
    for i, (own, _) in enumerate(words):
        f = [*own, *extra[i]]
        for off in _OFFSETS:
            j = i + off
            if 0 <= j < len(words):
                f += words[j][1][off]
                if abs(off) == 1:
                    f += [f"{off}:{x}" for x in extra[j]]
            else:
                f.append(_EDGES[off])
        out.append(f)
    return out
