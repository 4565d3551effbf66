"""Ukrainian typed in Latin letters, read back in Cyrillic for the intent classifier.

Customers without a Ukrainian keyboard write "koly vy pratsiuiete", "skasuvaty zapys", "privit".
Each spelling is a different string to character n-grams learned from Cyrillic examples, so
such messages were misread ("privit" as a question about prices). `to_cyrillic` spells them back
(the national transliteration and the chat habits around it: "g" for "г", "w" for "в", "y" for
"и"), and the model classifies both spellings, keeping the reading it is surer of
(`nlu.model.BuiltinModel`). Entities are still taken from what the customer typed. English is
left alone (`nlu.lang.looks_english`), and so is every token with a digit, "@" or "/" (order
numbers, e-mails, links).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from nlu.lang import looks_english, translit_word

__all__ = ["cyrillic_reading", "to_cyrillic", "worth_reading_in_cyrillic"]

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff']+")
_LATIN_WORD = re.compile(r"[A-Za-z']+")
_KEEP = re.compile(r"[\d@/_.]")
# Longest first: "shch" before "sh" and "ch", "zh" before "z"...
_PAIRS = [
    ("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("iu", "ю"), ("ju", "ю"), ("ya", "я"), ("ia", "я"), ("ja", "я"),
    ("ye", "є"), ("ie", "є"), ("je", "є"), ("yi", "ї"), ("ji", "ї"), ("yo", "йо"),
    ("a", "а"), ("b", "б"), ("c", "ц"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"),
    ("h", "г"), ("i", "і"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("x", "кс"), ("y", "и"), ("z", "з"), ("'", "ь"),
]  # fmt: skip
_PATTERN = re.compile("|".join(re.escape(latin) for latin, _ in _PAIRS))
_MAP = dict(_PAIRS)
# Latin letters and pairs that also spell other Ukrainian letters: "miy" is "мій", "skasuyte"
# "скасуйте", "hochu" "хочу", "dobryi" "добрий", "moi" "мої", "sim'ia" "сім'я". Tried, the fewest
# changes first, when the plain spelling is no word the model knows (`to_cyrillic`).
_OTHER: dict[str, tuple[str, ...]] = {
    "i": ("и", "й", "ї"), "y": ("й", "і"), "h": ("х",), "e": ("є",), "yi": ("ий",),
    "ts": ("тс",), "'": ("'",),
}  # fmt: skip
# A soft sign customers leave out at the end of a word: "bud" "будь", "den" "день".
_SOFT_END = frozenset("дтсзлнц")
_MAX_CHANGES = 2


def worth_reading_in_cyrillic(text: str, known: Callable[[str], bool] | None = None) -> bool:
    """Latin letters and no Cyrillic, not English by its words, and (given ``known``, the
    model's vocabulary: its Latin words are English ones, bar a few) not half or more of its
    words known as they are typed: "block messages" is English the bot was taught, though
    neither word is on `looks_english`'s list."""
    if _CYRILLIC.search(text) or looks_english(text):
        return False
    words = _latin_words(text)
    if not words:
        return False
    if known is None:
        return True
    return 2 * sum(known(w) and not translit_word(w) for w in words) < len(words)


def _word(match: re.Match[str], known: Callable[[str], bool] | None = None) -> str:
    word = match.group(0)
    core = word.strip("'")  # quotes around a word, not soft signs
    if not core:
        return word
    start = word.index(core)
    return word[:start] + _spell(core.lower(), known) + word[start + len(core) :]


def _spell(core: str, known: Callable[[str], bool] | None) -> str:
    """``core`` (lower-case Latin) in Cyrillic: the plain spelling, or, given the model's
    vocabulary and when the plain one is not in it, the first spelling that is, with one or
    two letters read the other way (`_OTHER`, a soft sign at the end)."""
    units = [m.group(0) for m in _PATTERN.finditer(core)]
    plain = [_MAP[u] for u in units]
    if known is None or known("".join(plain)):
        return "".join(plain)
    options = [_OTHER.get(u, ()) for u in units]
    if plain and plain[-1] in _SOFT_END:
        options[-1] = (*options[-1], plain[-1] + "ь")
    where = [i for i, alts in enumerate(options) if alts]
    for changes in range(1, _MAX_CHANGES + 1):
        for picks in itertools.combinations(where, changes):
            for alts in itertools.product(*(options[i] for i in picks)):
                spelled = list(plain)
                for i, alt in zip(picks, alts, strict=True):
                    spelled[i] = alt
                if known(candidate := "".join(spelled)):
                    return candidate
    return "".join(plain)


def _kept(token: str) -> bool:
    """A token left as typed: a digit, "@", "/", "_" or "." inside (codes, e-mails, links)."""
    return _KEEP.search(token.strip(".,!?")) is not None


def _latin_words(text: str) -> list[str]:
    """The Latin words of the tokens `to_cyrillic` would spell (no codes, e-mails, links)."""
    words = []
    for token in text.split():
        if not _kept(token):
            words += [w.strip("'").lower() for w in _LATIN_WORD.findall(token) if w.strip("'")]
    return words


def to_cyrillic(text: str, known: Callable[[str], bool] | None = None) -> str:
    """``text`` with each Latin word spelled in Cyrillic; tokens with digits, "@", "/", "_"
    or "." inside (order numbers, e-mails, links) as they were. Given ``known`` (the model's
    vocabulary), a word whose plain spelling it lacks is spelled as a word it has, where one or
    two letters read the other way make one ("miy": "мій", not "мии")."""
    out = []
    for token in re.split(r"(\s+)", text):
        out.append(token if _kept(token) else _LATIN_WORD.sub(lambda m: _word(m, known), token))
    return "".join(out)


def cyrillic_reading(text: str, known: Callable[[str], bool] | None = None) -> str | None:
    """``text`` in Cyrillic when it is worth a second reading (`worth_reading_in_cyrillic`) and,
    given the model's vocabulary, half or more of the Cyrillic words are in it: "Hope" spelled
    "гопе" is no Ukrainian word, and at a name step its Cyrillic reading was taken for a request
    for a person; "koly vy pratsiuiete" gives three words the model knows."""
    if not worth_reading_in_cyrillic(text, known):
        return None
    cyrillic = to_cyrillic(text, known)
    if known is not None:
        words = [w.strip("'") for w in _CYRILLIC_WORD.findall(cyrillic.lower()) if w.strip("'")]
        if not words or 2 * sum(map(known, words)) < len(words):
            return None
    return cyrillic
