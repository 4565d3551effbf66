from __future__ import annotations

from datetime import date, datetime

import pytest

from nlu.dates import extract_dates, next_day_of_month
from nlu.extractors import ExtractorConfig, RuleExtractor, apply_synonyms
from nlu.lang import detect_language
from nlu.types import Entity

from .conftest import NOW, TZ


@pytest.mark.parametrize(
    ("text", "lang", "span", "value"),
    [
        ("запишіть мене завтра о 15:00", "uk", "завтра о 15:00", "2026-11-21T15:00:00+02:00"),
        ("можна 15.12?", "uk", "15.12", "2026-12-15"),
        ("через 2 дні", "uk", "через 2 дні", "2026-11-22"),
        ("у вівторок", "uk", "вівторок", "2026-11-24"),
        ("сьогодні о 18", "uk", "сьогодні о 18", "2026-11-20T18:00:00+02:00"),
        ("15 грудня о 12:30", "uk", "15 грудня о 12:30", "2026-12-15T12:30:00+02:00"),
        ("післязавтра", "uk", "післязавтра", "2026-11-22"),
        ("next Tuesday at 3pm", "en", "next Tuesday at 3pm", "2026-11-24T15:00:00+02:00"),
        ("tomorrow 10am", "en", "tomorrow 10am", "2026-11-21T10:00:00+02:00"),
        ("how about friday", "en", "friday", "2026-11-20"),
        ("next friday", "en", "next friday", "2026-11-27"),
        ("in 2 hours", "en", "in 2 hours", "2026-11-20T12:00:00+02:00"),
        ("dec 15", "en", "dec 15", "2026-12-15"),
        ("can i come at 3pm tomorrow", "en", "3pm tomorrow", "2026-11-21T15:00:00+02:00"),
        ("10.01", "uk", "10.01", "2027-01-10"),
        ("tomorrow morning", "en", "tomorrow morning", "2026-11-21T09:00:00+02:00"),
        ("sunday at noon", "en", "sunday at noon", "2026-11-22T12:00:00+02:00"),
        ("завтра ввечері", "uk", "завтра ввечері", "2026-11-21T18:00:00+02:00"),
        ("перенесіть на наступний тиждень", "uk", "наступний тиждень", "2026-11-23"),
        ("о 5 вечора", "uk", "5 вечора", "2026-11-20T17:00:00+02:00"),
        # a day of the month alone: the next such day, today included
        ("on the 18th", "en", "18th", "2026-12-18"),
        ("cancel my visit on the 21st", "en", "21st", "2026-11-21"),
        ("the 20th at 3pm", "en", "20th at 3pm", "2026-11-20T15:00:00+02:00"),
        ("18-го", "uk", "18-го", "2026-12-18"),
        ("на 18 число", "uk", "18 число", "2026-12-18"),
        ("можна 25го о 10:00?", "uk", "25го о 10:00", "2026-11-25T10:00:00+02:00"),
        ("22-го числа", "uk", "22-го числа", "2026-11-22"),
        ("18th of march", "en", "18th of march", "2027-03-18"),
        ("december the 2nd", "en", "december the 2nd", "2026-12-02"),
        ("3-го грудня", "uk", "3-го грудня", "2026-12-03"),
    ],
)
def test_dates_relative_to_now(text: str, lang: str, span: str, value: str) -> None:
    found = extract_dates(text, now=NOW, tz=TZ, lang=lang)
    assert [(d.text, d.value) for d in found] == [(span, value)]
    assert text[found[0].start : found[0].end] == span


def test_dates_naive_now_takes_tz_and_ignores_prices() -> None:
    found = extract_dates("завтра о 9:00", now=datetime(2026, 6, 1, 8, 0), tz=TZ)
    assert found[0].value == "2026-06-02T09:00:00+03:00"  # summer time in Kyiv
    assert extract_dates("ціна 15.50 грн", now=NOW, tz=TZ) == []
    assert extract_dates("замовлення 12345", now=NOW, tz=TZ) == []
    assert extract_dates("пройшло 5 днів", now=NOW, tz=TZ) == []  # a count, not "о 5"
    assert extract_dates("перенесіть завтрашній запис", now=NOW, tz=TZ) == []
    assert extract_dates("скільки за годину", now=NOW, tz=TZ) == []


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (date(2026, 11, 20), 20, date(2026, 11, 20)),
        (date(2026, 11, 20), 19, date(2026, 12, 19)),
        (date(2026, 12, 25), 3, date(2027, 1, 3)),
        (date(2026, 4, 5), 31, date(2026, 5, 31)),  # April has no 31st
        (date(2027, 2, 10), 30, date(2027, 3, 30)),
        (date(2026, 11, 20), 0, None),
        (date(2026, 11, 20), 32, None),
    ],
)
def test_next_day_of_month(today: date, day: int, expected: date | None) -> None:
    assert next_day_of_month(day, today) == expected


@pytest.mark.parametrize(
    "text",
    ["the 3rd floor", "на 2-му поверсі", "2-го поверху", "my 2nd visit", "з 3-го разу", "1st time"],
)
def test_ordinals_that_are_no_dates(text: str) -> None:
    assert extract_dates(text, now=NOW, tz=TZ, lang="en") == []


def _extract(text: str, **kwargs: object) -> list[tuple[str, object, str]]:
    rules = RuleExtractor(**kwargs)  # type: ignore[arg-type]
    return [(e.entity, e.value, e.text) for e in rules.extract(text, lang="uk", now=NOW, tz=TZ)]


def test_phones_to_e164_with_default_region_ua() -> None:
    assert _extract("мій номер 050 123 45 67") == [("phone", "+380501234567", "050 123 45 67")]
    assert _extract("call +44 20 7946 0958") == [("phone", "+442079460958", "+44 20 7946 0958")]


def test_emails_and_order_numbers() -> None:
    assert _extract("пишіть на Olena.K@Example.com") == [
        ("email", "olena.k@example.com", "Olena.K@Example.com")
    ]
    assert _extract("де моє замовлення 12345") == [("order_number", "12345", "12345")]
    assert _extract("order #A1234 status") == [("order_number", "A1234", "A1234")]
    # A Cyrillic "А" typed on a Ukrainian layout still gives the Latin id.
    assert _extract("А1001 де") == [("order_number", "A1001", "А1001")]


def test_order_pattern_is_configurable() -> None:
    cfg = ExtractorConfig(order_pattern=r"\bORD-(?P<num>\d{3})\b", dates=False)
    assert _extract("ORD-123 and A1001", config=cfg) == [("order_number", "123", "123")]


def test_regex_lookup_and_synonyms() -> None:
    rules = RuleExtractor(
        regexes={"account": [r"\b\d{10}\b"]},
        lookups={"service": ["стрижка", "манікюр"]},
        config=ExtractorConfig(phones=False),
    )
    found = rules.extract("стрижка і рахунок 1234567890", lang="uk", now=NOW, tz=TZ)
    assert [(e.entity, e.value) for e in found] == [
        ("service", "стрижка"),
        ("account", "1234567890"),
    ]
    mapped = apply_synonyms(found, {"стрижка": "haircut"})
    assert mapped[0].value == "haircut"


def test_synonyms_give_the_canonical_value_whatever_the_case() -> None:
    rules = RuleExtractor(lookups={"service": ["consultation", "пломбу"]})
    synonyms = {"пломбу": "filling", "dental consultation": "consultation"}
    found = rules.extract("A CONSULTATION and ПЛОМБУ", lang="en", now=NOW, tz=TZ)
    assert [e.value for e in apply_synonyms(found, synonyms)] == ["consultation", "filling"]
    # values that are neither a synonym nor a canonical value stay as written
    other = rules.extract("Consultation", lang="en", now=NOW, tz=TZ)
    assert [e.value for e in apply_synonyms(other, {"x": "y"})] == ["Consultation"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("привіт", "uk"),
        ("де моє замовлення A1001", "uk"),
        ("where is my замовлення", "uk"),
        ("hello there", "en"),
        ("book a haircut at 3pm", "en"),
        ("pryvit, zapysaty na strizhku", "uk"),
        ("привет как дела, ты здесь? ёлки", "ru"),
        ("city quality activity", "en"),
        ("olena@example.com", "en"),
    ],
)
def test_language_detection(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_language_default_for_no_letters() -> None:
    assert detect_language("12345 👍", default="uk") == "uk"


def test_merge_keeps_crf_types_the_rules_do_not_make() -> None:
    rules = RuleExtractor(lookups={"service": ["манікюр"]})
    text = "манікюр завтра о 15:00 this evening"
    rule_found = rules.extract(text, lang="uk", now=NOW, tz=TZ)
    crf = [
        Entity(
            "service", "манікюр", 0, 7, "манікюр", "CRFEntityExtractor"
        ),  # a rule type: rule wins
        Entity("timeRange", "завтра о 15:00", 8, 22, "завтра о 15:00", "CRFEntityExtractor"),
    ]
    merged = rules.merge(rule_found, crf)
    assert [(e.entity, e.extractor) for e in merged] == [
        ("service", "LookupEntityExtractor"),
        ("time", "DateExtractor"),
        ("timeRange", "CRFEntityExtractor"),
        ("time", "DateExtractor"),
    ]
    assert "timeRange" not in rules.types() and {"time", "phone", "service"} <= rules.types()
