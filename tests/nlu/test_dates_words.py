"""Clock times in words (`nlu.dates_words`), through the date grammar, at NOW (Friday
2026-11-20 10:00, Europe/Kyiv)."""

from __future__ import annotations

import pytest

from nlu.dates import extract_dates
from nlu.extractors import RuleExtractor

from .conftest import NOW, TZ

DAY = "2026-11-20T"


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("о дев'ятій ранку", "дев'ятій ранку", DAY + "09:00:00+02:00"),
        ("об одинадцятій", "одинадцятій", DAY + "11:00:00+02:00"),
        ("о дванадцятій", "дванадцятій", DAY + "12:00:00+02:00"),
        ("о дванадцятій ночі", "дванадцятій ночі", DAY + "00:00:00+02:00"),
        ("о першій", "першій", DAY + "13:00:00+02:00"),
        ("о першій дня", "першій дня", DAY + "13:00:00+02:00"),
        ("о другій ночі", "другій ночі", DAY + "02:00:00+02:00"),
        ("о третій годині", "третій годині", DAY + "15:00:00+02:00"),
        ("о четвертій", "четвертій", DAY + "16:00:00+02:00"),
        ("о п'ятій вечора", "п'ятій вечора", DAY + "17:00:00+02:00"),
        ("о шостій", "шостій", DAY + "18:00:00+02:00"),
        ("о сьомій ранку", "сьомій ранку", DAY + "07:00:00+02:00"),
        ("о восьмій", "восьмій", DAY + "08:00:00+02:00"),
        ("о десятій вечора", "десятій вечора", DAY + "22:00:00+02:00"),
        ("можна на третю?", "третю", DAY + "15:00:00+02:00"),
        # half past: "пів на третю" is 2:30 on the clock, read as 14:30 for an appointment
        ("о пів на третю", "пів на третю", DAY + "14:30:00+02:00"),
        ("пів на десяту ранку", "пів на десяту ранку", DAY + "09:30:00+02:00"),
        ("пів на першу", "пів на першу", DAY + "12:30:00+02:00"),
        ("пів третьої", "пів третьої", DAY + "14:30:00+02:00"),
        ("о чверть на п'яту", "чверть на п'яту", DAY + "16:15:00+02:00"),
        ("двадцять хвилин на восьму", "двадцять хвилин на восьму", DAY + "19:20:00+02:00"),
        ("за десять третя", "за десять третя", DAY + "14:50:00+02:00"),
        ("за чверть дев'ята", "за чверть дев'ята", DAY + "08:45:00+02:00"),
        ("опівдні", "опівдні", DAY + "12:00:00+02:00"),
        ("опівночі", "опівночі", DAY + "00:00:00+02:00"),
        ("о 3 ранку", "3 ранку", DAY + "03:00:00+02:00"),
        ("о 10 вечора", "10 вечора", DAY + "22:00:00+02:00"),
        ("завтра о дев'ятій ранку", "завтра о дев'ятій ранку", "2026-11-21T09:00:00+02:00"),
        ("у четвер о четвертій", "четвер о четвертій", "2026-11-26T16:00:00+02:00"),
        ("у понеділок о пів на третю", "понеділок о пів на третю", "2026-11-23T14:30:00+02:00"),
    ],
)
def test_ukrainian_clock_words(text: str, span: str, value: str) -> None:
    found = extract_dates(text, now=NOW, tz=TZ, lang="uk")
    assert [(d.text, d.value) for d in found] == [(span, value)]


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("at nine am", "nine am", DAY + "09:00:00+02:00"),
        ("at nine in the morning", "nine in the morning", DAY + "09:00:00+02:00"),
        ("at nine", "nine", DAY + "09:00:00+02:00"),
        ("at one", "one", DAY + "13:00:00+02:00"),
        ("seven o'clock", "seven o'clock", DAY + "19:00:00+02:00"),
        ("at seven tonight", "seven tonight", DAY + "19:00:00+02:00"),
        ("half past two", "half past two", DAY + "14:30:00+02:00"),
        ("a quarter past three", "a quarter past three", DAY + "15:15:00+02:00"),
        ("quarter to five", "quarter to five", DAY + "16:45:00+02:00"),
        ("ten to three", "ten to three", DAY + "14:50:00+02:00"),
        ("20 past 4", "20 past 4", DAY + "16:20:00+02:00"),
        ("at 3 in the afternoon", "3 in the afternoon", DAY + "15:00:00+02:00"),
        ("noon", "noon", DAY + "12:00:00+02:00"),
        ("at midnight", "midnight", DAY + "00:00:00+02:00"),
        ("tomorrow at half past ten", "tomorrow at half past ten", "2026-11-21T10:30:00+02:00"),
    ],
)
def test_english_clock_words(text: str, span: str, value: str) -> None:
    found = extract_dates(text, now=NOW, tz=TZ, lang="en")
    assert [(d.text, d.value) for d in found] == [(span, value)]


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc", "`"])
def test_every_apostrophe_parses_the_same(apostrophe: str) -> None:
    # (Friday evening, said on Friday morning: the morning's 9:00 has passed and means next week)
    text = f"о дев{apostrophe}ятій вечора в п{apostrophe}ятницю"
    found = extract_dates(text, now=NOW, tz=TZ, lang="uk")
    assert [d.value for d in found] == [DAY + "21:00:00+02:00"]
    assert found[0].text == text[found[0].start : found[0].end]  # spans index the text as given
    ents = RuleExtractor().extract(text, lang="uk", now=NOW, tz=TZ)
    assert [e.value for e in ents] == [DAY + "21:00:00+02:00"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("на 16.03", "2027-03-16"),  # the date, not 16:03 today ("на" belongs to neither)
        ("о 16.03", "2027-03-16"),
        ("at 16.03", "2027-03-16"),
        ("seven tonight", DAY + "19:00:00+02:00"),  # "tonight" is inside the longer time
    ],
)
def test_a_date_is_dropped_only_inside_a_longer_time(text: str, value: str) -> None:
    assert [d.value for d in extract_dates(text, now=NOW, tz=TZ, lang="uk")] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "перенесіть на другу дату",
        "подарунок для друга",
        "перша процедура",
        "one of them",
        "at one point",
        "nine people",
        "на півночі міста",
        "п'ятниця",
    ],
)
def test_hour_words_that_are_no_times(text: str) -> None:
    assert all("T" not in d.value for d in extract_dates(text, now=NOW, tz=TZ, lang="uk"))
