"""NHS England's calendar for a call: local date, time band and core category.

Everything is decided by the call's start in Europe/London local time (so DST moves the
band, not the UTC clock), and England's bank holidays come from the maintained
``holidays`` library (substitute days included), never from hand-typed dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from models.classified import TIME_BANDS, CoreCategory

LONDON = ZoneInfo("Europe/London")

#: Lower bound (inclusive, local time) of each band in ``TIME_BANDS``.
_BAND_STARTS: tuple[time, ...] = (
    time(0, 0),
    time(6, 0),
    time(8, 0),
    time(10, 0),
    time(12, 0),
    time(14, 0),
    time(16, 0),
    time(18, 0),
    time(18, 30),
)
_CORE_8 = time(8, 0)
#: When core hours begin on a working day (Europe/London).
CORE_START = _CORE_8
_CORE_10 = time(10, 0)
_CORE_END = time(18, 30)

_ENGLAND = holidays.country_holidays("GB", subdiv="ENG")


def to_utc(at: datetime) -> datetime:
    """An aware time in UTC (the form every stored time takes)."""
    return at.astimezone(UTC)


def to_london(at: datetime) -> datetime:
    """An aware time as a clock in England shows it (GMT or BST)."""
    return at.astimezone(LONDON)


def time_band(local: time) -> str:
    """The NHS time band of a local clock time (18:29:59 is 18:00-18:29)."""
    band = TIME_BANDS[0]
    for start, label in zip(_BAND_STARTS, TIME_BANDS, strict=True):
        if local >= start:
            band = label
        else:
            break
    return band


@lru_cache(maxsize=4096)
def is_bank_holiday(day: date) -> bool:
    """Whether a date is a bank holiday in England (substitute days included)."""
    return day in _ENGLAND


def core_category(local: datetime) -> CoreCategory:
    """Core hours are Monday to Friday 08:00-18:30 local, bank holidays excepted."""
    day = local.date()
    if day.weekday() >= 5 or is_bank_holiday(day):
        return "Non-Core"
    clock = local.time()
    if _CORE_8 <= clock < _CORE_10:
        return "Core_8_10"
    if _CORE_10 <= clock < _CORE_END:
        return "Core_10_1830"
    return "Non-Core"


def last_whole(day: date, now: datetime) -> date:
    """``day``, or the same weekday a week before while ``day`` is still running in England
    at ``now`` (today): an average of days must not take today's calls so far for a day's."""
    today = to_london(now).date()
    while day >= today:
        day -= timedelta(weeks=1)
    return day


def same_weekdays(last: date, weeks: int) -> list[date]:
    """``last`` and the same weekday of the ``weeks - 1`` weeks before it, oldest first,
    bank holidays left out (a practice is closed, so that day is no guide to the weekday)."""
    days = (last - timedelta(weeks=n) for n in range(weeks - 1, -1, -1))
    return [day for day in days if not is_bank_holiday(day)]
