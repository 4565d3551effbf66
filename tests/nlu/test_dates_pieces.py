"""One moment said in two pieces (trial 3's T5 and T18, `nlu.dates_merge`): a part of the day
and then the clock time, a weekday and then the date. A booking took the first piece: 09:00
for "зранку ... о 10", 14:00 for "після обіду ... о 16", Tuesday the 8th for "у вівторок 15
грудня об 11"."""

from __future__ import annotations

import datetime as dt

import pytest

from nlu.dates import extract_dates

NOW = dt.datetime(2026, 12, 7, 10, 0)  # a Monday morning


def _found(text: str) -> list[tuple[str, str]]:
    return [(m.text, m.value) for m in extract_dates(text, now=NOW)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("у вівторок 15 грудня об 11", [("вівторок 15 грудня об 11", "2026-12-15T11:00:00")]),
        ("в середу після обіду, десь о 16", [
            ("середу після обіду, десь о 16", "2026-12-09T16:00:00"),
        ]),
        ("в середу після обіду о 4", [("середу після обіду о 4", "2026-12-09T16:00:00")]),
        ("завтра зранку о 10", [("завтра зранку о 10", "2026-12-08T10:00:00")]),
        ("завтра ввечері о 7", [("завтра ввечері о 7", "2026-12-08T19:00:00")]),
        ("tmrw morning, smth around 10", [("tmrw morning, smth around 10", "2026-12-08T10:00:00")]),
        ("friday afternoon at 3", [("friday afternoon at 3", "2026-12-11T15:00:00")]),
        ("запишіть близько 10", [("10", "2026-12-07T10:00:00")]),
        # two moments stay two
        ("в понеділок і вівторок", [("понеділок", "2026-12-07"), ("вівторок", "2026-12-08")]),
        ("завтра о 10 або в середу о 12", [
            ("завтра о 10", "2026-12-08T10:00:00"), ("середу о 12", "2026-12-09T12:00:00"),
        ]),
        # numbers that are no time stay none
        ("about 3 people", []),
        ("близько 2 годин", []),
    ],
)  # fmt: skip
def test_a_moment_in_two_pieces_is_one(text: str, found: list[tuple[str, str]]) -> None:
    assert _found(text) == found
