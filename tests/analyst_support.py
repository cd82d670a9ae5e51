"""Hand-made classified calls for the analyst views and the CBT export tests.

A call is described the way a person reads a call log: practice, local date and time,
outcome, wait and talk seconds. Band, buckets and core category are spelled out by the
rulebook (docs/classification.md) in the simplest possible code, so expected figures in the
tests can be worked out by hand from the call list alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.classified import ClassifiedCall
from streams.core import reference
from streams.settings import Settings
from streams.warehouse import reference_store
from streams.warehouse.store import Warehouse

LONDON = ZoneInfo("Europe/London")
MAPPING = Path(__file__).parent / "fixtures" / "reference" / "gp-reg-pat-prac-map.csv"
LIST_SIZES = Path(__file__).parent / "fixtures" / "reference" / "gp-reg-pat-prac-all.csv"
BANK_HOLIDAYS = {date(2026, 8, 31), date(2026, 12, 25), date(2026, 12, 28)}
_BANDS = [
    (time(6), "00:00-05:59"),
    (time(8), "06:00-07:59"),
    (time(10), "08:00-09:59"),
    (time(12), "10:00-11:59"),
    (time(14), "12:00-13:59"),
    (time(16), "14:00-15:59"),
    (time(18), "16:00-17:59"),
    (time(18, 30), "18:00-18:29"),
]


def band(local: time) -> str:
    return next((label for end, label in _BANDS if local < end), "18:30-23:59")


def core(day: date, local: time) -> str:
    if day.weekday() >= 5 or day in BANK_HOLIDAYS or not time(8) <= local < time(18, 30):
        return "Non-Core"
    return "Core_8_10" if local < time(10) else "Core_10_1830"


def wait_bucket(wait: int | None) -> str | None:
    if wait is None:
        return None
    if wait == 0:
        return "0"
    if wait > 300:
        return ">300"
    if wait > 240:
        return "241_300"
    upper = -(-wait // 30) * 30
    return f"{upper - 29}_{upper}"


def duration_bucket(talk: int | None) -> str | None:
    if talk is None:
        return None
    if talk <= 60:
        return "1 minute or less"
    if talk <= 120:
        return "1 to 2 minutes"
    if talk <= 300:
        return "2 to 5 minutes"
    return "over 5 minutes"


def call(
    call_id: str,
    when: str,
    outcome: str | None = "answered",
    *,
    practice: str = "A81001",
    wait: int | None = None,
    talk: int | None = None,
    **overrides: Any,
) -> ClassifiedCall:
    """A call started at ``when`` (``2026-08-03 08:05``, London local time)."""
    local = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
    started = local.astimezone(UTC)
    if outcome == "answered":
        wait = 10 if wait is None else wait
        talk = 90 if talk is None else talk
    ended = started + timedelta(seconds=(wait or 0) + (talk or 0) + 5)
    routing = "right_first_time" if outcome == "answered" else "unrouted"
    fields: dict[str, Any] = dict(
        practice=practice,
        call_id=call_id,
        started_at=started,
        local_date=local.date(),
        time_band=band(local.time()),
        core_category=core(local.date(), local.time()),
        inbound=outcome is not None,
        outcome=outcome,
        wait_s=wait,
        wait_bucket=wait_bucket(wait),
        talk_s=talk,
        duration_bucket=duration_bucket(talk),
        callback_made=False,
        request_type=None,
        first_team="reception" if outcome == "answered" else None,
        transfers=0,
        routing=routing,
        caller_key=f"caller-{call_id}",
        complete=True,
        rules_version="test-1",
        ended_at=ended,
        events=4,
        answered_at=started + timedelta(seconds=wait or 0) if outcome == "answered" else None,
    )
    fields.update(overrides)
    return ClassifiedCall(**fields)


def load_reference(warehouse: Warehouse) -> None:
    """The fixture practice mapping and list sizes (A81001, A81002, A81004, A81005)."""
    for path in (MAPPING, LIST_SIZES):
        extract = reference.parse(path.read_text(encoding="utf-8"))
        reference_store.load(warehouse, extract, path.name)


def build(settings: Settings, calls: list[ClassifiedCall], with_reference: bool = True) -> None:
    """A warehouse in ``settings.data_dir`` holding ``calls`` (and the fixture hierarchy)."""
    with Warehouse.open(settings) as warehouse:
        if with_reference:
            load_reference(warehouse)
        warehouse.merge_calls(calls)
