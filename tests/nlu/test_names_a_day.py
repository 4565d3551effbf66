"""`nlu.dates.names_a_day`: does a date/time's text name a day, or only a clock time or a part
of the day? The dialogue keeps the day already chosen for the second kind (trial T1/T4:
"завтра", then "о пів на п'яту", was booked for today)."""

from __future__ import annotations

import pytest

from nlu.dates import names_a_day

A_TIME_ALONE = [
    "о дев'ятій ранку",
    "о девʼятій ранку",
    "о пів на третю",
    "о сьомій вечора",
    "о четвертій",  # four o'clock, not Thursday
    "опівдні",
    "at half past two",
    "half past two",
    "at 3pm",
    "о 15:00",
    "о 15.00",
    "morning",
    "в обід",
]
A_DAY = [
    "завтра о 9",
    "завтра",
    "16.03",
    "на 16.03",  # a date, not 16:03
    "в четвер",
    "tomorrow morning",
    "tonight",
    "через 2 дні",
    "18-го",
    "the 18th",
    "12 грудня",
    "next week",
]


@pytest.mark.parametrize("text", A_TIME_ALONE)
def test_a_clock_time_or_part_of_the_day_names_no_day(text: str) -> None:
    assert not names_a_day(text)


@pytest.mark.parametrize("text", A_DAY)
def test_a_day_word_or_a_date_names_a_day(text: str) -> None:
    assert names_a_day(text)
