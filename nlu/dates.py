"""Date and time extraction for Ukrainian and English, resolved against a reference time.

A small grammar finds the span ("завтра о 15:00", "next Tuesday at 3pm", "15.12",
"через 2 дні", "on the 18th", "18-го") and resolves the common forms itself; other date
phrases ("15 грудня", "dec 15") are handed to dateparser. Values are ISO strings:
``YYYY-MM-DD`` for a day, ``YYYY-MM-DDTHH:MM:SS+HH:MM`` when a time of day is known.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from nlu.dates_merge import Pieces, merge
from nlu.dates_words import TRIGGER_STEMS as _WORD_TIME_STEMS
from nlu.dates_words import WORD_TIME, clock_hour, resolve_word_time
from nlu.normalise import normalise_text

_WEEKDAYS = {
    0: r"monday|mon|понеділ\w*|пн|ponedil\w*",  # and in Latin letters, as "zavtra" below
    1: r"tuesday|tue|tues|вівтор\w*|вт|vivtor\w*",
    2: r"wednesday|wed|серед\w*|ср|sered[auiy]",
    3: r"thursday|thu|thurs|четвер(?:г\w*)?|чт|chetver(?:h\w*|g\w*)?",  # not "четвертій" (4:00)
    4: r"friday|fri|п'?ятниц\w*|п’ятниц\w*|пт|p'?[iy]?atny(?:ts|c)\w*",
    5: r"saturday|sat|субот\w*|сб|subot\w*",
    6: r"sunday|sun|неділ\w*|нд|nedil\w*",
}
_REL_DAYS = {
    # Ukrainian in Latin letters too ("zavtra o 10"), as it is typed on a phone without Cyrillic
    r"today|tonight|сьогодні|сьодні|седня|sohodni|sogodni|s'ogodni": 0,
    r"tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|завтра|завтро|zavtra": 1,
    r"day after tomorrow|післязавтра|післязавтро|pisliazavtra|pislyazavtra|pislazavtra": 2,
    r"yesterday|вчора|учора|vchora": -1,
}
_MONTHS = (
    r"jan\w*|feb\w*|mar\w*|apr\w*|may|jun\w*|jul\w*|aug\w*|sep\w*|oct\w*|nov\w*|dec\w*|"
    r"січ\w*|лют\w*|берез\w*|квіт\w*|травн\w*|черв\w*|лип\w*|серп\w*|верес\w*|жовт\w*|"
    r"листопад\w*|груд\w*"
)
_UNITS = {
    r"days?|дн\w*|день|доби": "days",
    r"weeks?|тиж\w*": "weeks",
    r"hours?|hrs?|годин\w*|год": "hours",
    r"minutes?|mins?|хвилин\w*|хв": "minutes",
}
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "a": 1, "an": 1, "один": 1, "одну": 1, "два": 2,
              "дві": 2, "три": 3, "чотири": 4, "пару": 2}  # fmt: skip

_WD = "|".join(f"(?:{p})" for p in _WEEKDAYS.values())
_REL = "|".join(sorted(_REL_DAYS, key=len, reverse=True))
_UNIT = "|".join(_UNITS)
_NUMW = "|".join(_NUM_WORDS)
_TOD = {
    r"morning|зранку|вранці|зрання|ранком|з ранку": time(9, 0),
    r"noon|midday|в обід|обід|опівдні|о полудні": time(12, 0),
    r"midnight|опівночі|о півночі": time(0, 0),
    r"afternoon|після обіду|по обіді": time(14, 0),
    r"evening|tonight|ввечері|увечері|вечером|ввечорі": time(18, 0),
}
# Ordinal suffixes of a day number: English "18th", Ukrainian "18-го" / "18го" / "18-те".
_ORD = r"st|nd|rd|th|\s?-\s?(?:го|те)|го"
# Words after an ordinal that make it no date: "the 3rd floor", "2-го поверху", "1st visit".
_NOT_A_DAY = (
    r"floors?|times?|visits?|orders?|place|attempt|row|year|grade|birthday|anniversary|"
    r"поверх\w*|раз\w*|клас\w*|рок\w*|замовлен\w*|візит\w*|запис\w*|місц\w*"
)
_TIME = (
    r"(?:(?P<pre>at|о|об|в|на|o|@|around|about|близько|приблизно)\s*)?"
    rf"(?:(?P<wt>{WORD_TIME})"
    r"|(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)\s*(?P<ap>am|pm|a\.m\.|p\.m\.)?"
    r"|(?P<h2>1[0-2]|0?\d)\s*(?P<ap2>am|pm|a\.m\.|p\.m\.)"
    r"|(?P<h3>[01]?\d|2[0-3])(?!\s*[.\d])(?:\s*(?:год\w*|h))?"
    r"(?:\s*(?P<part3>ранку|вечора|дня|ночі|"
    r"in the morning|in the afternoon|in the evening|at night))?"
    rf"|(?P<tod>{'|'.join(_TOD)}))"
)
_DATE = (
    rf"(?P<rel>{_REL})"
    rf"|(?:(?P<next>next|this|наступн\w*|цього|цей|цю|у|в|on)\s*)?(?P<wd>\b(?:{_WD})\b)"
    rf"|(?P<d>[0-3]?\d)[./](?P<mo>[01]?\d)(?:[./](?P<y>\d{{2,4}}))?(?![\d:])"
    rf"|(?P<in>in|через)\s+(?P<n>\d+|{_NUMW})?\s*(?P<unit>{_UNIT})\b"
    r"|(?P<wk>next|this|наступн\w*|цього|цей|на цьому|на наступному)\s+(?P<wku>week|тиж\w*)"
    rf"|(?P<md>\d{{1,2}}(?:{_ORD})?\s+(?:of\s+)?(?:{_MONTHS})"
    rf"|(?:{_MONTHS})\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?)"
    # A day of the month alone: "the 18th", "18-го", "18 числа", "на 18 число".
    rf"|(?P<od>[0-3]?\d)(?:{_ORD}|\s+числ[оаі])(?:\s+(?:числа|of\s+(?:the|this)\s+month))?"
    rf"(?!\s+(?:{_NOT_A_DAY})\b)"
)
_TIME_RE = re.compile(
    rf"(?<![\w:]){_TIME}(?![\w:])(?!\s*(?:грн|uah|usd|eur|\$|€|%))", re.IGNORECASE
)
_DATE_RE = re.compile(rf"(?<![\w.])(?:{_DATE})(?![\w])", re.IGNORECASE)


# Word stems every digit-free date contains (a day word, a weekday, a unit, a month); a message
# with neither a digit nor one of these skips the (slow) grammar entirely.
_TRIGGER_STEMS = (
    "today", "tonight", "tomor", "tommor", "tmr", "yesterday", "day", "week", "hour", "minute",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "oct", "nov", "dec", "сьо", "седн", "завтр", "післязавтр", "вчор", "учор",
    "понед", "вівт", "серед", "четв", "п'ят", "п’ят", "пят", "субот", "неділ", "через", "січ",
    "лют", "берез", "квіт", "травн", "черв", "лип", "серп", "верес", "жовт", "листоп", "груд",
    "дн", "день", "доб", "тиж", "годин", "хвилин", "пн", "вт", "ср", "чт", "пт", "сб", "нд",
    "morning", "noon", "midday", "afternoon", "evening", "зран", "вран", "ранк", "обід",
    "вечер", "ввеч", "увеч", "опівдн", "полуд", "sohodn", "sogodn", "s'ogodn", "zavtr",
    "pislazavtr", "pisliazavtr", "pislyazavtr", "vchor", "ponedil", "vivtor", "sered",
    "chetver", "piatn", "pyatn", "p'yatn", "p'iatn", "patn", "subot", "nedil", *_WORD_TIME_STEMS,
)  # fmt: skip
_DIGIT = re.compile(r"\d")
_WORDS = re.compile(r"[^\W\d_][\w'’]*")


def _may_contain_date(text: str) -> bool:
    if _DIGIT.search(text):
        return True
    return any(w.startswith(_TRIGGER_STEMS) for w in _WORDS.findall(text.lower()))


@dataclass(frozen=True)
class DateMatch:
    """A date/time found in text: span, matched text and ISO value."""

    start: int
    end: int
    text: str
    value: str


def _resolve_date(m: re.Match[str], today: date, lang: str) -> date | timedelta | None:
    g = m.groupdict()
    if g["rel"]:
        rel = g["rel"].lower()
        for pat, days in _REL_DAYS.items():
            if re.fullmatch(pat, rel):
                return today + timedelta(days=days)
    if g["wd"]:
        wd_text = g["wd"].lower()
        wd = next(k for k, p in _WEEKDAYS.items() if re.fullmatch(p, wd_text))
        ahead = (wd - today.weekday()) % 7
        nxt = (g["next"] or "").lower()
        if nxt.startswith(("next", "наступн")) and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead)
    if g["d"]:
        day, month = int(g["d"]), int(g["mo"])
        year = int(g["y"]) if g["y"] else today.year
        year += 2000 if year < 100 else 0
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if not g["y"] and found < today:
            found = found.replace(year=today.year + 1)
        return found
    if g["unit"]:
        n_raw = (g["n"] or "1").lower()
        n = int(n_raw) if n_raw.isdigit() else _NUM_WORDS.get(n_raw, 1)
        unit = next(u for p, u in _UNITS.items() if re.fullmatch(p, g["unit"].lower()))
        return timedelta(**{unit: n})
    if g["wk"]:
        if re.match(r"next|наступн|на наступному", g["wk"], re.IGNORECASE):
            return today + timedelta(days=7 - today.weekday())  # next Monday
        return today
    if g["md"]:
        return _month_day(_plain_month_day(g["md"]), today, lang)
    if g["od"]:
        return next_day_of_month(int(g["od"]), today)
    return None


def next_day_of_month(day: int, today: date) -> date | None:
    """The next date (today included) whose day of the month is ``day``: "the 31st" in a
    30-day month is the 31st of the next month that has one; None for no such day."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        try:
            found = date(year, month, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


_ORD_SUFFIX = re.compile(rf"(?<=\d)(?:{_ORD})|\b(?:of|the)\s+", re.IGNORECASE)


def _plain_month_day(text: str) -> str:
    """For dateparser: no ordinal suffix, "of" or "the" ("18th of march" -> "18 march")."""
    return _ORD_SUFFIX.sub("", text)


def warm_up() -> None:
    """Load dateparser's Ukrainian and English data now: its first call takes ~150 ms."""
    for text, lang in (("1 січня", "uk"), ("jan 1", "en")):
        _month_day.__wrapped__(text, date(2000, 1, 1), lang)


@functools.lru_cache(maxsize=4096)
def _month_day(text: str, today: date, lang: str) -> date | None:
    # dateparser takes about a millisecond a call; the same phrase on the same day repeats.
    parsed = dateparser.parse(
        text,
        languages=[lang, "en"] if lang != "en" else ["en"],
        settings={"RELATIVE_BASE": datetime.combine(today, time()), "PREFER_DATES_FROM": "future"},
    )
    return parsed.date() if parsed else None


def _resolve_time(m: re.Match[str]) -> time | None:
    g = m.groupdict()
    if g["wt"]:
        return resolve_word_time(g["wt"], g["pre"], m.string[m.end() :])
    if g["tod"]:
        tod = g["tod"].lower()
        return next(t for p, t in _TOD.items() if re.fullmatch(p, tod))
    if g["h3"] and not _bare_hour_is_time(m):
        return None
    h_raw = g["h"] or g["h2"] or g["h3"]
    if h_raw is None:
        return None
    hour, minute = int(h_raw), int(g["m"] or 0)
    ap = (g["ap"] or g["ap2"] or "").lower().replace(".", "")
    if ap == "pm" and hour < 12:
        hour += 12
    elif ap == "am" and hour == 12:
        hour = 0
    elif not ap and hour <= 12 and (g["h3"] or g["pre"] or ":" in m.group(0)):
        # "о 3", "at 2.30", "2:30" in a booking chat mean the afternoon; "о 3 ночі" does not
        # (`nlu.dates_words`); "2.30" alone may be a price
        hour = clock_hour(hour, minute, g["part3"])
    return time(hour, minute)


_END = re.compile(r"\s*(?:$|[.,!?;:)…])")


def _bare_hour_is_time(m: re.Match[str]) -> bool:
    """A bare number is a time after "о"/"at" ("о 15", "at 3"), and after "в"/"на" with a part
    of the day ("в 9 ранку", "на 7 вечора") or at the end of a sentence ("давайте в 9",
    "завтра на 11"), and so after "around"/"близько" ("smth around 10"); after "в" also with
    "годині"; not before another word ("в 5 класі", "about 3 people"):
    "на 2 години" is a duration."""
    pre = (m.group("pre") or "").lower()
    if pre in ("о", "об", "at", "o"):
        return True
    if pre not in ("в", "на", "around", "about", "близько", "приблизно"):
        return False
    if m.group("part3"):
        return True
    said_hours = "год" in m.group(0).lower()
    if said_hours:
        return pre == "в"
    return bool(_END.match(m.string, m.end()))


def names_a_day(text: str) -> bool:
    """Whether ``text`` itself names a day (a relative day, a weekday, a date, a day of the
    month, "in 2 days"), not only a clock time or a part of the day: "о дев'ятій ранку" and
    "at half past two" name none, "завтра о 9", "16.03" and "tonight" do. A dialogue keeps the
    day already chosen for a time alone, which `extract_dates` resolves to today."""
    text = normalise_text(text)
    if not _may_contain_date(text):
        return False
    today = date.today()
    times = [m for m in _TIME_RE.finditer(text) if _resolve_time(m) is not None]
    return any(
        _resolve_date(m, today, "uk") is not None and not _within(m, times)
        for m in _DATE_RE.finditer(text)
    )


def extract_dates(
    text: str, *, now: datetime | None = None, tz: str | None = None, lang: str = "uk"
) -> list[DateMatch]:
    """Find dates/times in ``text`` relative to ``now`` (default: the current time in ``tz``).
    Any apostrophe reads as ``'`` (`nlu.normalise`); spans index ``text`` as given."""
    raw, text = text, normalise_text(text)
    if not _may_contain_date(text):
        return []
    zone = ZoneInfo(tz) if tz else None
    ref = now or datetime.now(zone)
    if zone is not None:
        ref = ref.astimezone(zone) if ref.tzinfo else ref.replace(tzinfo=zone)
    today = ref.date()
    dates = [(m, _resolve_date(m, today, lang)) for m in _DATE_RE.finditer(text)]
    times = [(m, _resolve_time(m)) for m in _TIME_RE.finditer(text)]
    times = [(m, v) for m, v in times if v is not None]
    # "tonight" is a day inside "seven tonight"; "15:00" is a time inside no date
    dates = [(m, v) for m, v in dates if v is not None and not _within(m, [t for t, _ in times])]
    times = [(m, v) for m, v in times if not _time_in_date(m, [d for d, _ in dates])]
    out: list[DateMatch] = []
    used_times: set[int] = set()
    for dm, dv in dates:
        when = dv if isinstance(dv, date) else None
        at: time | None = None
        start, end = dm.start(), dm.end()
        if isinstance(dv, timedelta):
            moment = ref + dv
            when = moment.date()
            at = moment.time().replace(second=0, microsecond=0) if dv < timedelta(days=1) else None
        for i, (tm, tv) in enumerate(times):
            gap = text[end : tm.start()] if tm.start() >= end else text[tm.end() : start]
            if i not in used_times and (tm.start() >= end or tm.end() <= start) and len(gap) <= 4:
                at, used_times = tv, used_times | {i}
                start, end = min(start, tm.start()), max(end, tm.end())
                break
        assert when is not None
        if at is not None and _this_weekday_passed(dm, when, at, ref):
            when += timedelta(days=7)  # "в понеділок зранку" said on a Monday afternoon
        out.append(_match(text, start, end, when, at, ref))
    for i, (tm, tv) in enumerate(times):
        if i not in used_times:
            out.append(_match(text, tm.start(), tm.end(), today, tv, ref))
    found = sorted(out, key=lambda d: d.start)
    joined = merge(
        text,
        found,
        lambda d: (d.start, d.end, d.value),
        lambda s, e, v: DateMatch(s, e, text[s:e], v),
        _PIECES,
    )
    return [DateMatch(d.start, d.end, raw[d.start : d.end], d.value) for d in joined]


def _clock_only(piece: str) -> bool:
    """The piece is one clock time ("о 10", "16:30", "10"), no part of the day."""
    m = _TIME_RE.fullmatch(piece.strip())
    return m is not None and not m.group("tod") and not m.group("part3")


def _part_of_day(piece: str) -> time | None:
    """The time of the part of the day the piece ends with ("середу після обіду" -> 14:00)."""
    last = ([None, *_TIME_RE.finditer(piece)])[-1]
    ends = last is not None and last.group("tod") and not piece[last.end() :].strip()
    return _resolve_time(last) if last is not None and ends else None


def _weekday_only(piece: str) -> bool:
    m = _DATE_RE.fullmatch(piece.strip())
    return m is not None and m.group("wd") is not None


_PIECES = Pieces(_clock_only, _part_of_day, _weekday_only)


def _this_weekday_passed(m: re.Match[str], when: date, at: time, ref: datetime) -> bool:
    """A weekday named on that very day, with a time already past: the customer means next
    week's (trial F18), unless they said "this"/"цей"/"цього"."""
    if not m.group("wd") or when != ref.date():
        return False
    if (m.group("next") or "").lower() in ("this", "цей", "цього", "цю"):
        return False
    return datetime.combine(when, at, tzinfo=ref.tzinfo) < ref


def _core(t: re.Match[str]) -> tuple[int, int]:
    """A time match's span without its preposition ("на 16.03" -> "16.03")."""
    start = t.end("pre") if t.group("pre") else t.start()
    while start < t.end() and t.string[start].isspace():
        start += 1
    return start, t.end()


def _within(m: re.Match[str], times: list[re.Match[str]]) -> bool:
    """Inside a time that says more than it does ("tonight" in "seven tonight"); a time's
    preposition does not count ("на 16.03" is the date 16.03, not 16:03)."""
    spans = [_core(t) for t in times]
    return any(s <= m.start() and m.end() <= e and e - s > m.end() - m.start() for s, e in spans)


def _time_in_date(t: re.Match[str], dates: list[re.Match[str]]) -> bool:
    start, end = _core(t)
    return any(d.start() <= start and end <= d.end() for d in dates)


_LEADING = re.compile(
    r"(?:(?:at|on|о|об|у|в|на|o|around|about|близько|приблизно)\s+|@)", re.IGNORECASE
)


def _match(text: str, start: int, end: int, day: date, at: time | None, ref: datetime) -> DateMatch:
    # Spans start at the date itself, not at a preposition ("at 3pm" -> "3pm").
    lead = _LEADING.match(text, start)
    if lead and lead.end() < end:
        start = lead.end()
    while start < end and not text[start].isalnum():
        start += 1
    if at is None:
        return DateMatch(start, end, text[start:end], day.isoformat())
    moment = datetime.combine(day, at, tzinfo=ref.tzinfo)
    return DateMatch(start, end, text[start:end], moment.isoformat())
