"""NHS England's wait and talk-duration buckets (upper bounds inclusive)."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.classified import DURATION_BUCKETS, WAIT_BUCKETS

_SECOND = timedelta(seconds=1)


def whole_seconds(start: datetime, end: datetime) -> int:
    """Seconds from start to end, rounded down and never negative (clocks disagree)."""
    return max(0, (end - start) // _SECOND)


def wait_bucket(wait_s: int) -> str:
    """``0``, ``1_30``, ... ``211_240`` in 30 s steps, then ``241_300`` and ``>300``."""
    if wait_s < 0:
        raise ValueError(f"a wait cannot be negative: {wait_s}")
    if wait_s <= 240:
        return WAIT_BUCKETS[-(-wait_s // 30)]  # ceil: 1..30 -> 1, 31..60 -> 2, ...
    if wait_s <= 300:
        return WAIT_BUCKETS[-2]
    return WAIT_BUCKETS[-1]


def duration_bucket(talk_s: int) -> str:
    """NHS England's talk-time labels: up to 60 s, 61-120 s, 121-300 s, over 300 s."""
    if talk_s < 0:
        raise ValueError(f"a talk time cannot be negative: {talk_s}")
    if talk_s <= 60:
        return DURATION_BUCKETS[0]
    if talk_s <= 120:
        return DURATION_BUCKETS[1]
    if talk_s <= 300:
        return DURATION_BUCKETS[2]
    return DURATION_BUCKETS[3]
