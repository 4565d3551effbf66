"""Working hours to UTC intervals, slot starts and 15-minute cells (pure, no database)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from storage.slots import cells, slot_starts, within_working_hours, working_intervals

KYIV = "Europe/Kyiv"
SPLIT = {"thu": [["09:00", "13:00"], ["14:00", "18:00"]]}
NIGHT = {"sun": [["00:00", "06:00"]], "sat": [["20:00", "24:00"]]}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_split_shift_in_winter_is_utc_plus_two() -> None:
    intervals = working_intervals(SPLIT, KYIV, dt.date(2026, 3, 26))
    assert intervals == [
        (utc(2026, 3, 26, 7), utc(2026, 3, 26, 11)),
        (utc(2026, 3, 26, 12), utc(2026, 3, 26, 16)),
    ]
    assert working_intervals(SPLIT, KYIV, dt.date(2026, 3, 27)) == []  # a Friday: day off


def test_summer_time_moves_the_same_wall_clock_an_hour_earlier_in_utc() -> None:
    assert working_intervals(SPLIT, KYIV, dt.date(2026, 4, 2))[0][0] == utc(2026, 4, 2, 6)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (dt.date(2026, 3, 29), 5),  # clocks go 03:00 -> 04:00: a short night
        (dt.date(2026, 10, 25), 7),  # clocks go 04:00 -> 03:00: a long night
        (dt.date(2026, 3, 22), 6),
    ],
)
def test_dst_change_days_have_an_hour_less_or_more(day: dt.date, hours: int) -> None:
    [(start, end)] = working_intervals(NIGHT, KYIV, day)
    assert end - start == dt.timedelta(hours=hours)
    starts = list(slot_starts([(start, end)], dt.timedelta(hours=1), dt.timedelta(hours=1)))
    assert len(starts) == hours
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(starts))


def test_24_00_ends_the_day_at_local_midnight() -> None:
    [(start, end)] = working_intervals(NIGHT, KYIV, dt.date(2026, 3, 28))
    assert (start, end) == (utc(2026, 3, 28, 18), utc(2026, 3, 28, 22))


def test_slot_starts_fit_the_duration_in_each_interval() -> None:
    intervals = working_intervals(SPLIT, KYIV, dt.date(2026, 3, 26))
    starts = list(slot_starts(intervals, dt.timedelta(minutes=60), dt.timedelta(minutes=30)))
    assert len(starts) == 14  # 09:00..12:00 and 14:00..17:00, every half hour
    assert utc(2026, 3, 26, 11) not in starts  # 13:00 local: lunch


def test_within_working_hours() -> None:
    at = utc(2026, 3, 26, 10, 30)
    assert within_working_hours(SPLIT, KYIV, at, at + dt.timedelta(minutes=30))
    assert not within_working_hours(SPLIT, KYIV, at, at + dt.timedelta(minutes=60))  # into lunch
    late = utc(2026, 3, 28, 21)
    assert within_working_hours(NIGHT, KYIV, late, late + dt.timedelta(hours=1))


def test_cells_cover_every_touched_quarter_hour() -> None:
    assert cells(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)) == [
        utc(2026, 1, 1, 9, m) for m in (0, 15, 30, 45)
    ]
    assert cells(utc(2026, 1, 1, 9, 10), utc(2026, 1, 1, 9, 20)) == [
        utc(2026, 1, 1, 9, 0),
        utc(2026, 1, 1, 9, 15),
    ]
    with pytest.raises(ValueError, match="end after"):
        cells(utc(2026, 1, 1, 9), utc(2026, 1, 1, 9))
