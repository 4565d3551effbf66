"""Clock times said in words, Ukrainian and English, for the date grammar (`nlu.dates`).

Ukrainian: "о дев'ятій ранку", "об одинадцятій", "на третю", "о пів на третю", "пів третьої",
"о чверть на п'яту", "за десять третя", "двадцять хвилин на восьму", "опівдні", "опівночі";
English: "at nine am", "nine o'clock", "half past two", "a quarter to five", "ten past three",
"noon", "midnight".

Which half of the day: a part of the day said with the time decides ("ранку"/"am"/"in the
morning"; "дня"/"по обіді"/"in the afternoon"; "вечора"/"pm"/"in the evening"; "ночі"/"at
night": 12 is midnight, 1-5 stay at night, 6-11 are evening hours). Without one, the phrase
is read as a person booking an appointment reads it, the same rule as for "о 3": a clock time
from 1:00 to 7:59 is in the afternoon or evening ("о пів на третю" is 14:30, "о сьомій" 19:00,
"пів на восьму" 19:30), from 8:00 to 12:59 in the morning or at noon ("о дев'ятій" 09:00,
"пів на першу" 12:30).
"""

from __future__ import annotations

import re
from datetime import time

__all__ = ["TRIGGER_STEMS", "WORD_TIME", "resolve_word_time"]

_UK_HOURS = {
    "перш": 1, "друг": 2, "трет": 3, "четверт": 4, "п'ят": 5, "шост": 6, "сьом": 7,
    "восьм": 8, "дев'ят": 9, "десят": 10, "одинадцят": 11, "дванадцят": 12,
    "пят": 5, "девят": 9,  # typed without the apostrophe ("о девятій"), as people often do
}  # fmt: skip
_EN_HOURS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_UK_MINUTES = {"п'ять": 5, "десять": 10, "п'ятнадцять": 15, "двадцять": 20,
               "двадцять п'ять": 25, "чверть": 15,
               "пять": 5, "пятнадцять": 15, "двадцять пять": 25}  # fmt: skip
_EN_MINUTES = {"five": 5, "ten": 10, "twenty": 20, "twenty-five": 25, "twenty five": 25,
               "quarter": 15, "a quarter": 15}  # fmt: skip
# Parts of the day, and which half of the clock each one puts an hour in.
_PARTS = {
    r"ранку|зранку|вранці|am|a\.m\.|in the morning": "morning",
    r"дня|по обіді|після обіду|in the afternoon": "afternoon",
    r"вечора|ввечері|увечері|pm|p\.m\.|in the evening|tonight": "evening",
    r"ночі|вночі|уночі|at night": "night",
}


def _alt(words: object) -> str:
    return "|".join(sorted(map(str, words), key=len, reverse=True))  # type: ignore[call-overload]


# A Ukrainian hour word as an ordinal in the cases people use: "третій" (о), "третю" (на),
# "третя" (за десять), "третьої" (пів).
_UK_H = rf"(?:{_alt(_UK_HOURS)})(?:ій|ьої|ої|ю|у|а|я)(?![\w'])"
_UK_MIN = rf"(?:{_alt(_UK_MINUTES)}|[1-5]?\d)(?:\s+хв\w*)?"
_EN_H = rf"(?:{_alt(_EN_HOURS)}|1[0-2]|[1-9])"
_EN_MIN = rf"(?:{_alt(_EN_MINUTES)}|[1-5]?\d)(?:\s+minutes?)?"
_PART = rf"(?:\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\s+(?:{_alt(p for p in _PARTS)}))"
_NOT_AT_HOUR = r"point|of|another|more|time|stage|go|place|day|week|month|year|moment|less"
_FORMS = {
    "half_to": rf"(?:пів|половин[аус])\s+на\s+{_UK_H}",
    "half_gen": rf"пів\s*{_UK_H}",
    "min_to": rf"{_UK_MIN}\s+на\s+{_UK_H}",
    "before": rf"за\s+{_UK_MIN}\s+{_UK_H}",
    "uk_hour": rf"{_UK_H}(?:\s+годин[іиуа])?",
    "en_half": rf"half\s+past\s+{_EN_H}",
    "en_past": rf"{_EN_MIN}\s+(?:past|after)\s+{_EN_H}",
    "en_to": rf"{_EN_MIN}\s+(?:to|of|till)\s+{_EN_H}",
    "en_hour": (
        rf"(?:{_alt(_EN_HOURS)})(?:\s+o'clock)?(?!\s+(?:{_NOT_AT_HOUR})\b)|{_EN_H}\s+o'clock"
    ),
}
_FORM_RES = {k: re.compile(rf"(?:{v})(?P<part>{_PART})?", re.IGNORECASE) for k, v in _FORMS.items()}
WORD_TIME = "(?:" + "|".join(f"(?:{v})" for v in _FORMS.values()) + rf"){_PART}?"

# Stems that let a message without digits into the grammar (`nlu.dates`).
TRIGGER_STEMS = (
    *_UK_HOURS, "пів", "половин", "чверт", "опівн", "північ", "ноч", "вноч",
    *_EN_HOURS, "half", "quarter", "midnight", "o'clock", "twenty",
)  # fmt: skip
_HOUR_RE = re.compile(rf"(?:{_alt(_UK_HOURS)}|{_alt(_EN_HOURS)}|\d+)", re.IGNORECASE)
_MIN_RE = re.compile(rf"{_alt([*_UK_MINUTES, *_EN_MINUTES])}|\d+", re.IGNORECASE)


def _number(word: str) -> int:
    low = word.lower()
    if low.isdigit():
        return int(low)
    return {**_UK_HOURS, **_EN_HOURS, **_UK_MINUTES, **_EN_MINUTES}[low]


def _last_hour(text: str) -> int:
    return _number(_HOUR_RE.findall(text)[-1])


def clock_hour(hour: int, minute: int, part: str | None) -> int:
    """24-hour hour of a 12-hour clock ``hour`` (0-12), by the part of the day or, without
    one, the appointment rule of this module's docstring."""
    if part is None:
        return hour + 12 if 1 <= hour <= 7 else hour
    kind = next(k for p, k in _PARTS.items() if re.fullmatch(p, part.strip(), re.IGNORECASE))
    if kind == "morning" or (kind == "night" and hour <= 5):
        return 0 if hour == 12 else hour
    if kind == "night" and hour == 12:
        return 0
    return hour + 12 if hour < 12 else hour


_LOCATIVE = re.compile(rf"(?:{_alt(_UK_HOURS)})ій", re.IGNORECASE)
_ACCUSATIVE = re.compile(rf"(?:{_alt(_UK_HOURS)})[ую]$", re.IGNORECASE)
# After "на третю" only these may follow for it to be a time ("на другу дату" is no time).
_AFTER_ACCUSATIVE = re.compile(
    r"\s*(?:$|[^\w\s]|(?:годин|завтра|сьогодні|післязавтра|понеділ|вівтор|серед|четвер|"
    r"п'ятниц|субот|неділ|будь ласка|можна|добре|ок)\b)",
    re.IGNORECASE,
)


def _said_as_time(text: str, pre: str | None, after: str) -> bool:
    """Whether an hour word with no part of the day is a time: "о третій", "об одинадцятій",
    "at nine", "nine o'clock", and "на третю" when nothing but a date or the end follows."""
    prep, named = (pre or "").lower(), text.strip().lower()
    if "o'clock" in named or _LOCATIVE.match(named):
        return prep in ("о", "об", "at", "o", "в", "у") or "o'clock" in named
    if _ACCUSATIVE.search(named):
        return prep == "на" and bool(_AFTER_ACCUSATIVE.match(after))
    return prep == "at"


def resolve_word_time(text: str, pre: str | None, after: str = "") -> time | None:
    """The time of a `WORD_TIME` match (``pre``: the preposition before it, if any; ``after``:
    the text after it); None when the words alone do not make it a time ("друга" after no
    "о"/"на" is "a friend's", "на другу дату" is no time)."""
    form, m = next(((k, m) for k, rx in _FORM_RES.items() if (m := rx.fullmatch(text.strip()))),
                   (None, None))  # fmt: skip
    if form is None or m is None:
        return None
    part = m.group("part")
    hour, minute = _last_hour(text), 0
    if form in ("uk_hour", "en_hour") and not (part or _said_as_time(text, pre, after)):
        return None
    if form in ("half_to", "half_gen", "min_to", "before", "en_to"):
        hour = 12 if hour == 1 else hour - 1
        minute = 30 if form.startswith("half") else _number(_MIN_RE.findall(text)[0])
        minute = 60 - minute if form in ("before", "en_to") else minute
    elif form not in ("uk_hour", "en_hour"):
        minute = 30 if form == "en_half" else _number(_MIN_RE.findall(text)[0])
    if not 1 <= hour <= 12 or not 0 <= minute <= 59:
        return None
    return time(clock_hour(hour, minute, part), minute)
