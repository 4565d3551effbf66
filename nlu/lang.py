"""Per-message language detection for Ukrainian and English (plus a Russian guess).

Script-based and dependency-free: Cyrillic with Ukrainian-only letters is Ukrainian, Cyrillic with
Russian-only letters is Russian, Latin is English unless it looks like transliterated Ukrainian.
Mixed messages go by the majority of letters. `looks_english` asks more of Latin text: words of
English in it, not just no sign of Ukrainian ("koly vy pratsiuiete" has neither).
"""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_LATIN_WORD = re.compile(r"(?<![^\W\d_])[a-z]+(?![^\W\d_])")
_UK_ONLY = re.compile(r"[іїєґ]")
_RU_ONLY = re.compile(r"[ыэъё]")
# Common words customers type in Latin letters when they mean Ukrainian.
_UK_TRANSLIT = {
    "pryvit", "privit", "dyakuyu", "diakuiu", "dyakuju", "dyakuiu", "duzhe", "tak", "ni",
    "hochu", "khochu", "zapys", "zapysatys", "zamovlennya", "zamovlennia", "de", "moje", "moye",
    "meni", "mene", "bud", "laska", "budlaska", "zavtra", "sohodni", "sogodni", "dobryi",
    "dobrij", "den", "vechir", "rankok", "skilky", "koshtuie", "koshtuye", "vidminyty",
    "pererestruvaty", "ludyna", "lyudyna", "pobachennya", "buvai", "bywaj", "na", "moi",
    "dani", "akaunt", "vydalit", "vydalyty", "skasuvaty", "perenesty", "zapysatysia",
    "chy", "shcho", "shco", "sho", "nema", "nemaye", "treba", "potribno", "adresa", "hrn",
}  # fmt: skip
# Endings of transliterated Ukrainian verbs and nouns ("zapysaty", "vidpysatys", "zamovlennya").
_TRANSLIT_END = re.compile(r"(?:[ay]ty|[ay]tys|ennya|ennia|uyu|iuiu|ysia|yvit|ovi)$")
_URL_OR_EMAIL = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_EN_COMMON = {"the", "is", "are", "my", "you", "i", "to", "what", "where", "when", "hi", "hello"}
# Words of English a customer's message is likely to hold (function words, greetings, what the
# bot does); "i", "a", "to", "u" are left out: they also spell Ukrainian ("і", "а", "то", "у").
_EN_WORDS = frozenset(
    """
    the an is are am was were be been do does did don't have has had you your we our us they
    me my mine he she it it's this that these those what when where why how who which can
    could would will should may might must shall not no yes yeah yep nope ok okay sure please
    thanks thank hi hello hey bye goodbye and or but for of in on at with from about into by
    want need like help book booking appointment visit order status price prices cost how much
    open opening hours address today tomorrow time morning evening there here any some get make
    see know just also too very so if then than now cancel reschedule move change stop person
    human agent talk speak call number phone delivery delivered shipped week next monday
    tuesday wednesday thursday friday saturday sunday
    """.split()  # noqa: SIM905 (a word list reads better as text than as 150 literals)
)


def detect_language(text: str, default: str = "en") -> str:
    """Return ``"uk"``, ``"en"`` or ``"ru"`` for ``text``; ``default`` when it has no letters."""
    low = _URL_OR_EMAIL.sub(" ", text.lower()) if "@" in text or "/" in text else text.lower()
    cyr = len(_CYRILLIC.findall(low))
    lat = len(_LATIN.findall(low))
    if cyr == 0 and lat == 0:
        return default
    if cyr >= lat:
        return "ru" if len(_RU_ONLY.findall(low)) > len(_UK_ONLY.findall(low)) else "uk"
    words = _LATIN_WORD.findall(low)
    translit = sum(w in _UK_TRANSLIT or bool(_TRANSLIT_END.search(w)) for w in words)
    en_hint = sum(w in _EN_COMMON for w in words)
    return "uk" if translit > en_hint and translit >= 1 else "en"


def translit_word(word: str) -> bool:
    """A lower-case Latin word common in Ukrainian typed in Latin letters ("zapys"), or with
    such a word's ending ("skasuvaty")."""
    return word in _UK_TRANSLIT or bool(_TRANSLIT_END.search(word))


def looks_english(text: str) -> bool:
    """Whether Latin-letter ``text`` shows English: a common English word (`_EN_WORDS`), and
    more of them than words of Ukrainian typed in Latin letters. Stricter than
    `detect_language`, for which any Latin text without a sign of Ukrainian is English."""
    words = _LATIN_WORD.findall(text.lower().replace("’", "'"))
    english = sum(w in _EN_WORDS for w in words)
    translit = sum(map(translit_word, words))
    return english >= 1 and english > translit


MIN_CLEAR_LETTERS = 3  # "ок", "ok": too short to tell anything
MIN_CLEAR_ENGLISH_WORDS = 2


def clear_language(text: str) -> str | None:
    """The language ``text`` is written in when its words leave no doubt, whatever a model made
    of them: ``"uk"`` for Ukrainian Cyrillic (`detect_language`) of at least
    `MIN_CLEAR_LETTERS` letters; ``"en"`` for Latin text with at least
    `MIN_CLEAR_ENGLISH_WORDS` common English words (`looks_english`). None for anything else:
    "ok", "asdfgh", a name, Ukrainian typed in Latin letters ("koly vy pratsiuiete")."""
    low = text.lower().replace("’", "'")
    if sum(ch.isalpha() for ch in low) < MIN_CLEAR_LETTERS:
        return None
    if _CYRILLIC.search(low):
        return "uk" if detect_language(low) == "uk" else None
    words = _LATIN_WORD.findall(low)
    english = sum(w in _EN_WORDS for w in words)
    return "en" if english >= MIN_CLEAR_ENGLISH_WORDS and looks_english(low) else None
