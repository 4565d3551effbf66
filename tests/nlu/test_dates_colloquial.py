"""Times and days as customers type them in a chat (trials T6, F10, F18, F27): "в 9", "на 11",
the apostrophe left out, "at 2.30" meaning the afternoon, Ukrainian in Latin letters ("zavtra
o 10"), "tomorow", a weekday named on that day after its time; and the numbers that are no time
("в 5 класі", "на 2 години", "2.30 грн")."""

from __future__ import annotations

import datetime as dt

import pytest

from nlu.dates import extract_dates, names_a_day

NOW = dt.datetime(2026, 12, 7, 10, 0)  # a Monday morning


def _values(text: str) -> list[str]:
    return [m.value for m in extract_dates(text, now=NOW)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("давайте в 9", "2026-12-07T09:00:00"),
        ("в 9 ранку", "2026-12-07T09:00:00"),
        ("на 7 вечора", "2026-12-07T19:00:00"),
        ("в 14 годині", "2026-12-07T14:00:00"),
        ("о девятій", "2026-12-07T09:00:00"),  # дев'ятій without its apostrophe
        ("о пів на пяту", "2026-12-07T16:30:00"),
        ("at 2.30", "2026-12-07T14:30:00"),
        ("2:30", "2026-12-07T14:30:00"),
        ("at 9.30", "2026-12-07T09:30:00"),
        ("at 7:45am", "2026-12-07T07:45:00"),
        ("завтра на 11", "2026-12-08T11:00:00"),
        ("tomorow at 5pm", "2026-12-08T17:00:00"),  # a typo in the day (trial F27)
        ("zavtra", "2026-12-08"),
        ("zavtra o 10", "2026-12-08T10:00:00"),
        ("pislyazavtra", "2026-12-09"),
        # weekdays in Latin letters (trial 4, G14)
        ("na subotu", "2026-12-12"),
        ("v subotu o 12", "2026-12-12T12:00:00"),
        ("u ponedilok o 9", "2026-12-14T09:00:00"),
        ("v chetver o 15", "2026-12-10T15:00:00"),
        ("na piatnytsiu", "2026-12-11"),
        ("v p'yatnytsyu o 10", "2026-12-11T10:00:00"),
        ("v seredu", "2026-12-09"),
        ("u nediliu", "2026-12-13"),
    ],
)
def test_read_as_people_type_it(text: str, value: str) -> None:
    assert _values(text) == [value]


@pytest.mark.parametrize(
    "text", ["в 5 класі", "на 2 години", "2.30 грн", "в 2 рази дешевше", "на 9 осіб"]
)
def test_numbers_that_are_no_time(text: str) -> None:
    assert _values(text) == []


def test_a_latin_day_names_a_day_and_a_bare_hour_does_not() -> None:
    assert names_a_day("zavtra o 10") and names_a_day("sohodni") and names_a_day("na subotu")
    assert not names_a_day("давайте в 9") and not names_a_day("at 2.30")


MONDAY_AFTERNOON = dt.datetime(2026, 12, 7, 16, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("в понеділок зранку", "2026-12-14T09:00:00+00:00"),  # this morning has passed
        ("on monday at 10", "2026-12-14T10:00:00+00:00"),
        ("в понеділок о 18", "2026-12-07T18:00:00+00:00"),  # still ahead today
        ("this monday at 10", "2026-12-07T10:00:00+00:00"),  # said so: today
    ],
)
def test_a_weekday_named_on_that_day_after_its_time_is_next_week(text: str, value: str) -> None:
    assert [m.value for m in extract_dates(text, now=MONDAY_AFTERNOON)] == [value]
