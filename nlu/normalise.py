"""One spelling for characters customers type in many ways, applied before anything reads a
message: the classifier, the CRF, the rule extractors (dates, phones, order numbers), language
detection and the dialogue's own readers (names, services, booking references).

Ukrainian has one apostrophe but keyboards give six or more: U+02BC ʼ (the standard one),
U+2019 ’ (phones' autocorrect), U+0027 ' (the ASCII key), U+2018 ‘, the backtick and U+00B4 ´
(the key next to 1 and its neighbour on some layouts), and the primes. Each is mapped to U+0027,
which the training data uses. Spaces that are not plain (no-break, thin, narrow) become plain.

The mapping is one character for one character, so entity offsets found in the normalised text
index the original text too; and it is idempotent, so calling it twice changes nothing.
"""

from __future__ import annotations

__all__ = ["APOSTROPHES", "normalise_text"]

APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4\u02b9\u2032\uff07\u055a"
_SPACES = "\u00a0\u2007\u2009\u200a\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000"
_TABLE = str.maketrans(
    {**{c: "'" for c in APOSTROPHES[1:]}, **{c: " " for c in _SPACES}},
)


def normalise_text(text: str) -> str:
    """``text`` with every apostrophe as U+0027 and every space as U+0020; same length."""
    return text.translate(_TABLE)
