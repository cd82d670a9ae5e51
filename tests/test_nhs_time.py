"""NHS calendar: bands by local clock, core hours, England's bank holidays from the library."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from models.classified import TIME_BANDS
from streams.core.nhs_time import (
    core_category,
    is_bank_holiday,
    last_whole,
    time_band,
    to_london,
)


@pytest.mark.parametrize(
    ("clock", "band"),
    [
        (time(0, 0), "00:00-05:59"),
        (time(5, 59, 59), "00:00-05:59"),
        (time(6, 0), "06:00-07:59"),
        (time(7, 59, 59, 999999), "06:00-07:59"),
        (time(8, 0), "08:00-09:59"),
        (time(9, 59, 59), "08:00-09:59"),
        (time(10, 0), "10:00-11:59"),
        (time(12, 0), "12:00-13:59"),
        (time(14, 0), "14:00-15:59"),
        (time(16, 0), "16:00-17:59"),
        (time(17, 59, 59), "16:00-17:59"),
        (time(18, 0), "18:00-18:29"),
        (time(18, 29, 59), "18:00-18:29"),
        (time(18, 30), "18:30-23:59"),
        (time(23, 59, 59), "18:30-23:59"),
    ],
)
def test_time_band_edges(clock: time, band: str) -> None:
    assert time_band(clock) == band


def test_every_band_is_reachable() -> None:
    assert {time_band(time(h, m)) for h in range(24) for m in (0, 30)} == set(TIME_BANDS)


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2026, 8, 31), True),  # late summer bank holiday
        (date(2026, 12, 28), True),  # Boxing Day 2026 is a Saturday: Monday 28th substitutes
        (date(2027, 12, 27), True),  # Christmas Day 2027 is a Saturday
        (date(2027, 12, 28), True),  # Boxing Day 2027 is a Sunday
        (date(2027, 12, 29), False),
        (date(2026, 4, 3), True),  # Good Friday
        (date(2026, 4, 6), True),  # Easter Monday (England, not Scotland)
        (date(2026, 8, 3), False),  # Scotland's summer holiday, not England's
        (date(2026, 3, 17), False),  # St Patrick's Day: Northern Ireland only
    ],
)
def test_england_bank_holidays(day: date, holiday: bool) -> None:
    assert is_bank_holiday(day) is holiday


@pytest.mark.parametrize(
    ("utc", "category"),
    [
        (datetime(2026, 8, 3, 6, 59, 59, tzinfo=UTC), "Non-Core"),  # 07:59:59 BST
        (datetime(2026, 8, 3, 7, 0, tzinfo=UTC), "Core_8_10"),  # 08:00 BST
        (datetime(2026, 8, 3, 8, 59, 59, tzinfo=UTC), "Core_8_10"),  # 09:59:59 BST
        (datetime(2026, 8, 3, 9, 0, tzinfo=UTC), "Core_10_1830"),  # 10:00 BST
        (datetime(2026, 8, 3, 17, 29, 59, tzinfo=UTC), "Core_10_1830"),  # 18:29:59 BST
        (datetime(2026, 8, 3, 17, 30, tzinfo=UTC), "Non-Core"),  # 18:30 BST
        (datetime(2026, 8, 2, 9, 0, tzinfo=UTC), "Non-Core"),  # Sunday
        (datetime(2026, 8, 31, 9, 0, tzinfo=UTC), "Non-Core"),  # bank holiday
        (datetime(2026, 12, 31, 8, 0, tzinfo=UTC), "Core_8_10"),  # GMT: 08:00 local
    ],
)
def test_core_category(utc: datetime, category: str) -> None:
    assert core_category(to_london(utc)) == category


def test_dst_both_ways() -> None:
    # 29 Mar 2026 01:00Z clocks go forward; 25 Oct 2026 01:00Z back
    assert to_london(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)).hour == 0
    assert to_london(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)).hour == 2
    assert to_london(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)).hour == 1
    assert to_london(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)).hour == 1
    assert to_london(datetime(2026, 10, 25, 2, 0, tzinfo=UTC)).hour == 2


def test_a_day_is_whole_once_it_has_ended_in_england() -> None:
    monday = date(2026, 8, 3)
    # 23:30 UTC on the 3rd is 00:30 BST on the 4th: the Monday has ended.
    assert last_whole(monday, datetime(2026, 8, 3, 23, 30, tzinfo=UTC)) == monday
    assert last_whole(monday, datetime(2026, 8, 3, 22, 30, tzinfo=UTC)) == date(2026, 7, 27)
    # A latest day after today (a clock behind the phone system's): the last whole one.
    assert last_whole(monday, datetime(2026, 7, 28, 12, 0, tzinfo=UTC)) == date(2026, 7, 27)
