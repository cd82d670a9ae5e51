"""Who was on the phones in each quarter hour, worked out in Python from classified calls
(the simulator's truth), to check the warehouse's count (views/staffing_quarter_hours)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.classified import ClassifiedCall

LONDON = ZoneInfo("Europe/London")
QUARTER = timedelta(minutes=15)
Quarter = tuple[str, date, time]  # practice, local date, local quarter hour


def quarter_of(practice: str, at: datetime) -> Quarter:
    local = at.astimezone(LONDON)
    return practice, local.date(), time(local.hour, local.minute // 15 * 15)


def on_the_phones(calls: Iterable[ClassifiedCall]) -> dict[Quarter, set[str]]:
    """The people (first_agent) seen on the phones in each quarter hour: they picked up a
    call in it, or were on one call from before it began until after it ended."""
    seen: dict[Quarter, set[str]] = defaultdict(set)
    for call in calls:
        if call.answered_at is None or call.first_agent is None:
            continue
        practice, day, slot = quarter_of(call.practice, call.answered_at)
        seen[(practice, day, slot)].add(call.first_agent)
        if call.ended_at is None:
            continue
        start = datetime.combine(day, slot, LONDON) + QUARTER
        while start + QUARTER <= call.ended_at.astimezone(LONDON):
            seen[quarter_of(practice, start)].add(call.first_agent)
            start += QUARTER
    return seen
