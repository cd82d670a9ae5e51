"""The staffing SQL: staffing_quarter_hours (view) and reports/staffing_demand (the model's
input), checked against a call log worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from analyst_support import build, call

from streams.core.nhs_time import same_weekdays
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.store import Warehouse

D1, D2, HOLIDAY = "2026-08-03", "2026-08-10", "2026-08-31"  # Mondays; the 31st a bank holiday

#: A81001, Monday D1, 08:00-08:15: callers X (b1), Y (b2 missed, b3 got through), Z (b4
#: ended in the menu, b5 asked for a callback); b7 starts at 08:14 and is answered at
#: 08:15:10. 08:15-08:30: b6. b11 is picked up at 08:40 and talks until 09:05, all through
#: 08:45-09:00. b10 is in another NHS time band (10:00-11:59).
CALLS = [
    call("b1", f"{D1} 08:01", wait=30, talk=120, caller_key="X", first_agent="201"),
    call("b2", f"{D1} 08:03", "missed", wait=90, caller_key="Y"),
    call("b3", f"{D1} 08:10", wait=20, talk=60, caller_key="Y", first_agent="202"),
    call("b4", f"{D1} 08:05", "ended_in_ivr", caller_key="Z"),
    call("b5", f"{D1} 08:12", "callback_requested", wait=40, caller_key="Z"),
    call("b7", f"{D1} 08:14", wait=70, talk=30, caller_key="W", first_agent="203"),
    call("b6", f"{D1} 08:20", wait=10, talk=100, caller_key="V", first_agent="201"),
    call("b8", f"{D2} 08:02", wait=0, talk=90, caller_key="X", first_agent="201"),
    call("b10", f"{D1} 10:30", wait=5, talk=300, caller_key="U", first_agent="202"),
    call("b11", f"{D1} 08:40", wait=0, talk=1500, caller_key="T", first_agent="204"),
    call("b9", f"{HOLIDAY} 08:05", wait=5, talk=40, caller_key="X", first_agent="209"),
    # A81002 says nobody's name: its people are unknown, not zero.
    call("c1", f"{D1} 08:05", wait=10, talk=60, practice="A81002"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("staffing-sql"))
    build(settings, CALLS, with_reference=False)
    with Warehouse.open(settings, read_only=True) as warehouse:
        yield warehouse


def rows(warehouse: Warehouse, sql: str, params: Any = None) -> list[dict[str, Any]]:
    return list(warehouse.query(sql, params).iter_rows(named=True))


def test_staffing_quarter_hours(warehouse: Warehouse) -> None:
    got = rows(
        warehouse,
        "SELECT * EXCLUDE (practice, weekday) FROM staffing_quarter_hours "
        f"WHERE practice = 'A81001' AND local_date = DATE '{D1}' AND slot_start < TIME '09:00' "
        "ORDER BY slot_start",
    )
    assert got == [
        {
            "local_date": date(2026, 8, 3),
            "slot_start": time(8, 0),
            "time_band": "08:00-09:59",
            "offered": 5,  # b1 b2 b3 b5 b7 (b4 never reached a person)
            "offered_first": 3,  # b1 b2 b7
            "offered_repeat": 2,  # b3 (Y again), b5 (Z after the menu)
            "answered": 3,  # b1 b3 b7
            "talked": 3,
            "talk_s": 210,  # 120 + 60 + 30
            "waited": 5,
            "wait_s": 250,  # 30 + 90 + 20 + 40 + 70
            "gave_up": 1,  # b2
            "picked_up": 2,  # b1 at 08:01:30, b3 at 08:10:20 (b7 is picked up at 08:15:10)
            "picked_up_by_known": 2,
            "people": 2,  # 201, 202
        },
        {
            "local_date": date(2026, 8, 3),
            "slot_start": time(8, 15),
            "time_band": "08:00-09:59",
            "offered": 1,  # b6
            "offered_first": 1,
            "offered_repeat": 0,
            "answered": 1,
            "talked": 1,
            "talk_s": 100,
            "waited": 1,
            "wait_s": 10,
            "gave_up": 0,
            "picked_up": 2,  # b7, b6
            "picked_up_by_known": 2,
            "people": 2,  # 203, 201
        },
        {
            "local_date": date(2026, 8, 3),
            "slot_start": time(8, 30),
            "time_band": "08:00-09:59",
            "offered": 1,  # b11
            "offered_first": 1,
            "offered_repeat": 0,
            "answered": 1,
            "talked": 1,
            "talk_s": 1500,
            "waited": 1,
            "wait_s": 0,
            "gave_up": 0,
            "picked_up": 1,
            "picked_up_by_known": 1,
            "people": 1,  # 204
        },
        {
            "local_date": date(2026, 8, 3),
            "slot_start": time(8, 45),
            "time_band": None,  # no call started in it
            "offered": 0,
            "offered_first": 0,
            "offered_repeat": 0,
            "answered": 0,
            "talked": 0,
            "talk_s": 0,
            "waited": 0,
            "wait_s": 0,
            "gave_up": 0,
            "picked_up": 0,
            "picked_up_by_known": 0,
            "people": 1,  # 204, on b11 all through it (until 09:05)
        },
    ]


def test_staffing_demand_averages_the_weekdays(warehouse: Warehouse) -> None:
    dates = same_weekdays(date.fromisoformat(HOLIDAY), 5)  # the holiday itself is left out
    assert date.fromisoformat(HOLIDAY) not in dates and date.fromisoformat(D1) in dates
    query = sqlfiles.read("reports/staffing_demand.sql")
    got = rows(warehouse, query, {"practices": ["A81001", "A81002"], "dates": dates})
    a81001 = {row["slot"]: row for row in got if row["practice"] == "A81001"}
    assert set(a81001) == {"08:00", "08:15", "08:30", "08:45", "10:30"}
    eight = a81001["08:00"]
    assert eight["days"] == 2  # D1 and D2 had calls; the other Mondays none
    assert eight["offered"] == 3.0  # (5 + 1) / 2
    assert (eight["offered_first"], eight["offered_repeat"]) == (2.0, 1.0)
    assert eight["talk_s"] == 75.0  # (210 + 90) / 4 talked
    assert eight["band_talk_s"] == 1900 / 6  # 08:00-09:59: (210 + 90 + 100 + 1500) / 6
    assert eight["day_talk_s"] == 2200 / 7  # and b10's 300 s
    assert a81001["10:30"]["band_talk_s"] == 300.0
    assert a81001["08:45"]["offered"] == 0 and a81001["08:45"]["observed"] == 0.5  # b11
    assert eight["patience_s"] == 250.0  # (250 + 0) s waited / 1 gave up
    assert eight["observed"] == 1.5  # (2 + 1) people / 2 days
    quarter_past = a81001["08:15"]
    assert (quarter_past["offered"], quarter_past["observed"]) == (0.5, 1.0)
    assert quarter_past["patience_s"] is None  # nobody gave up: no estimate
    [a81002] = [row for row in got if row["practice"] == "A81002"]
    assert a81002["offered"] == 1.0 and a81002["observed"] is None


def test_a_call_whose_end_never_came_counts_its_person_only_where_they_picked_up(
    tmp_path,
) -> None:
    """A call answered at 08:10 whose call_ended never arrived (complete: false, no
    ended_at): how long 299 was on it is not known, so they are on the phones in 08:00
    only, not (as a missing end read as 'the end of the next day') for two days."""
    settings = Settings(data_dir=tmp_path)
    unended = call("u1", f"{D1} 08:10", wait=0, first_agent="299", complete=False)
    build(settings, [unended.model_copy(update={"ended_at": None})], with_reference=False)
    with Warehouse.open(settings, read_only=True) as warehouse:
        got = rows(
            warehouse,
            "SELECT local_date, slot_start, people FROM staffing_quarter_hours "
            "WHERE people > 0 ORDER BY ALL",
        )
    assert got == [{"local_date": date(2026, 8, 3), "slot_start": time(8, 0), "people": 1}]
