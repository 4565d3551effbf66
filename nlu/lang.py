"""Per-message language detection for Ukrainian and English (plus a Russian guess).

Script-based and dependency-free: Cyrillic with Ukrainian-only letters is Ukrainian, Cyrillic with
Russian-only letters is Russian, Latin is English unless it looks like transliterated Ukrainian.
Mixed messages go by the majority of letters.
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
