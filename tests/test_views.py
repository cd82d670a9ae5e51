"""The analyst views (sql/views/), each checked against figures worked out by hand.

The call log below is the whole input; the comment beside each expected figure says how a
person gets it from the log.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from analyst_support import build, call

from streams.settings import Settings
from streams.warehouse.store import Warehouse
from streams.warehouse.view_catalogue import render_catalogue

D1, D2 = "2026-08-03", "2026-08-10"  # two Mondays

#: A81001 on D1. Callers: K1 (a1, a7), K2 (a2-a5, got through on the 4th), K3 (a6);
#: a8 and a9 withheld; a10 outbound.
A81001_D1 = [
    call("a1", f"{D1} 07:40", wait=20, talk=50, caller_key="K1", request_type="appointments"),
    call("a2", f"{D1} 07:50", "missed", wait=100, caller_key="K2"),
    call("a3", f"{D1} 08:00", "missed", wait=200, caller_key="K2"),
    call(
        "a4",
        f"{D1} 08:02",
        "ended_in_ivr",
        caller_key="K2",
        request_type="prescriptions",
        routing="signposted",
        divert_target="pharmacy",
    ),
    call(
        "a5",
        f"{D1} 08:14",
        wait=90,
        talk=100,
        caller_key="K2",
        request_type="appointments",
        routing="transferred",
        transfers=1,
    ),
    call("a6", f"{D1} 08:15", wait=150, talk=30, caller_key="K3", request_type="results"),
    call(
        "a7",
        f"{D1} 09:00",
        "callback_requested",
        wait=40,
        caller_key="K1",
        callback_made=True,
        callback_answered=True,
        callback_wait_s=600,
    ),
    call("a8", f"{D1} 10:29", "callback_requested", wait=50, caller_key=None),
    call("a9", f"{D1} 10:30", wait=400, talk=20, caller_key=None),
    call("a10", f"{D1} 12:00", None),
]
OTHERS = [
    call("b1", f"{D2} 08:05", wait=10, talk=30, caller_key="K1"),
    call("b2", f"{D2} 13:00", caller_key="K9"),
    call("c1", f"{D1} 08:30", practice="A81002"),
    call("c2", f"{D1} 08:40", "missed", practice="A81002", wait=10),
    call("d1", "2026-08-04 09:00", "ended_in_ivr", practice="B99999"),
    call("e1", "2026-09-01 08:00"),
    call("f1", "2026-11-02 08:05", practice="A81005"),  # GMT: 08:05 UTC too
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("views") / "data")
    build(settings, [*A81001_D1, *OTHERS])
    with Warehouse.open(settings, read_only=True) as opened:
        yield opened


def rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query(sql).to_dicts()


def one(warehouse: Warehouse, sql: str) -> dict[str, Any]:
    (row,) = rows(warehouse, sql)
    return row


A_D1 = f"practice = 'A81001' AND local_date = DATE '{D1}'"


def test_calls_with_hierarchy_keeps_every_call_and_marks_unmapped(warehouse: Warehouse) -> None:
    assert one(warehouse, "SELECT count(*) AS n FROM calls_with_hierarchy")["n"] == 17
    mapped = one(warehouse, "SELECT * FROM calls_with_hierarchy WHERE call_id = 'c1'")
    assert (mapped["pcn_code"], mapped["icb_code"], mapped["region_code"]) == (
        "U00351",
        "QHM",
        "Y63",
    )
    assert mapped["list_size"] == 12604 and mapped["mapped"] is True
    unmapped = one(warehouse, "SELECT * FROM calls_with_hierarchy WHERE call_id = 'd1'")
    codes = [unmapped[c] for c in ("pcn_code", "sub_icb_code", "icb_code", "region_code")]
    assert codes == ["UNMAPPED"] * 4 and unmapped["mapped"] is False


def test_cbt_by_level_period(warehouse: Warehouse) -> None:
    def values(level: str, org: str, period: str, start: str) -> dict[str, int]:
        found = rows(
            warehouse,
            "SELECT indicator, value FROM cbt_by_level_period WHERE "
            f"level = '{level}' AND org_code = '{org}' AND period = '{period}' "
            f"AND period_start = DATE '{start}'",
        )
        return {r["indicator"]: r["value"] for r in found}

    # A81001 on D1: 9 inbound (a10 is outbound); a4 IVR; a1 a5 a6 a9 answered; a2 a3
    # missed; a7 a8 callback requested, a7 called back.
    assert values("practice", "A81001", "day", D1) == {
        "CBT001": 9,
        "CBT002": 1,
        "CBT003": 4,
        "CBT004": 2,
        "CBT005": 2,
        "CBT006": 1,
        "CBT007": 4,
    }
    # PCN U00351 = A81001 + A81002 (c1 answered, c2 missed).
    pcn_day = values("pcn", "U00351", "day", D1)
    assert (pcn_day["CBT001"], pcn_day["CBT003"], pcn_day["CBT004"]) == (11, 5, 3)
    # Weeks start on Monday: D2 (b1, b2) is the next week.
    assert values("pcn", "U00351", "week", D1)["CBT001"] == 11
    assert values("pcn", "U00351", "week", D2)["CBT001"] == 2
    # ICB month: 9 + 2 (D2) + 2 (A81002); the September call is in September.
    assert values("icb", "QHM", "month", "2026-08-01")["CBT001"] == 13
    assert values("icb", "QHM", "month", "2026-09-01")["CBT001"] == 1
    assert values("region", "UNMAPPED", "month", "2026-08-01") == {
        "CBT001": 1,
        "CBT002": 1,
        "CBT003": 0,
        "CBT004": 0,
        "CBT005": 0,
        "CBT006": 0,
        "CBT007": 0,
    }
    practices = one(
        warehouse,
        "SELECT practices FROM cbt_by_level_period WHERE level = 'pcn' AND period = 'day' "
        f"AND period_start = DATE '{D1}' AND indicator = 'CBT001'",
    )
    assert practices["practices"] == 2


def test_answer_speed(warehouse: Warehouse) -> None:
    # Answered waits on D1: 20, 90, 150, 400 s.
    row = one(warehouse, f"SELECT * FROM answer_speed WHERE {A_D1}")
    assert row["answered"] == 4
    assert (row["answered_within_1min"], row["answered_within_2min"]) == (1, 2)
    assert row["answered_within_5min"] == 3
    assert (row["share_within_1min"], row["share_within_2min"], row["share_within_5min"]) == (
        0.25,
        0.5,
        0.75,
    )
    assert row["wait_p50_s"] == 120.0  # (90 + 150) / 2
    assert row["wait_p90_s"] == pytest.approx(325.0)  # 150 + 0.7 * (400 - 150)


def test_service_level_per_band(warehouse: Warehouse) -> None:
    found = rows(
        warehouse,
        "SELECT time_band, offered, answered, answered_within_60s, answered_within_120s, "
        f"service_level_60s, service_level_120s FROM service_level WHERE {A_D1} "
        "ORDER BY time_band",
    )
    assert [tuple(r.values()) for r in found] == [
        ("06:00-07:59", 2, 1, 1, 1, 0.5, 0.5),  # a1 answered in 20 s, a2 missed
        ("08:00-09:59", 4, 2, 0, 1, 0.0, 0.25),  # a3 missed, a5 90 s, a6 150 s, a7 callback
        ("10:00-11:59", 2, 1, 0, 0, 0.0, 0.0),  # a8 callback, a9 answered after 400 s
    ]


def test_outcome_shares(warehouse: Warehouse) -> None:
    row = one(warehouse, f"SELECT * FROM outcome_shares WHERE {A_D1}")
    assert [row[k] for k in ("inbound", "answered", "ended_in_ivr", "missed")] == [9, 4, 1, 2]
    assert row["callback_requested"] == 2
    assert row["answered_share"] == pytest.approx(4 / 9)
    assert row["ivr_share"] == pytest.approx(1 / 9)
    assert row["missed_share"] == pytest.approx(2 / 9)
    assert row["callback_requested_share"] == pytest.approx(2 / 9)
    assert row["missed_share_of_offered"] == 0.25  # 2 missed of 8 that left the IVR


def test_callbacks(warehouse: Warehouse) -> None:
    row = one(warehouse, f"SELECT * FROM callbacks WHERE {A_D1}")
    assert row == {
        "practice": "A81001",
        "local_date": date(2026, 8, 3),
        "callbacks_requested": 2,  # a7, a8
        "callbacks_made": 1,  # a7
        "callbacks_answered": 1,
        "callbacks_not_made": 1,
        "made_share": 0.5,
        "callback_wait_p50_s": 600.0,
        "callback_wait_p90_s": 600.0,
    }


def test_calls_per_1000_patients(warehouse: Warehouse) -> None:
    def rate(level: str, org: str) -> dict[str, Any]:
        return one(
            warehouse,
            "SELECT inbound_calls, practices, practices_with_list_size, registered_patients, "
            f"calls_per_1000_patients FROM calls_per_1000_patients WHERE level = '{level}' "
            f"AND org_code = '{org}' AND month = DATE '2026-08-01'",
        )

    a81001 = rate("practice", "A81001")  # 9 + 2 inbound calls, 4,210 patients
    assert a81001["inbound_calls"] == 11 and a81001["registered_patients"] == 4210
    assert a81001["calls_per_1000_patients"] == pytest.approx(11_000 / 4210)
    pcn = rate("pcn", "U00351")  # 13 calls, 4,210 + 12,604 patients
    assert (pcn["inbound_calls"], pcn["practices"], pcn["registered_patients"]) == (13, 2, 16814)
    assert pcn["calls_per_1000_patients"] == pytest.approx(13_000 / 16814)
    unmapped = rate("practice", "B99999")
    assert unmapped["practices_with_list_size"] == 0
    assert unmapped["calls_per_1000_patients"] is None


def test_peak_demand_weekday_band(warehouse: Warehouse) -> None:
    found = rows(
        warehouse,
        "SELECT weekday_name, time_band, inbound_calls, days, calls_per_day, share_of_weekday "
        "FROM peak_demand_weekday_band WHERE practice = 'A81001' AND weekday = 1 "
        "ORDER BY time_band",
    )
    # Two Mondays: 06-08 a1 a2; 08-10 a3-a7 + b1; 10-12 a8 a9; 12-14 b2. 11 calls in all.
    assert [tuple(r.values()) for r in found] == [
        ("Monday", "06:00-07:59", 2, 2, 1.0, pytest.approx(2 / 11)),
        ("Monday", "08:00-09:59", 6, 2, 3.0, pytest.approx(6 / 11)),
        ("Monday", "10:00-11:59", 2, 2, 1.0, pytest.approx(2 / 11)),
        ("Monday", "12:00-13:59", 1, 2, 0.5, pytest.approx(1 / 11)),
    ]


def test_peak_demand_8am_slots(warehouse: Warehouse) -> None:
    found = rows(
        warehouse,
        "SELECT slot_start, inbound_calls, answered, ended_in_ivr, missed, callback_requested "
        f"FROM peak_demand_8am_slots WHERE {A_D1} ORDER BY slot_start",
    )
    assert len(found) == 12 and found[0]["slot_start"] == time(7, 30)
    assert found[-1]["slot_start"] == time(10, 15)
    by_slot = {r["slot_start"]: tuple(list(r.values())[1:]) for r in found if r["inbound_calls"]}
    assert by_slot == {
        time(7, 30): (1, 1, 0, 0, 0),  # a1 07:40
        time(7, 45): (1, 0, 0, 1, 0),  # a2 07:50
        time(8, 0): (3, 1, 1, 1, 0),  # a3 08:00, a4 08:02, a5 08:14
        time(8, 15): (1, 1, 0, 0, 0),  # a6 08:15
        time(9, 0): (1, 0, 0, 0, 1),  # a7
        time(10, 15): (1, 0, 0, 0, 1),  # a8 10:29; a9 at 10:30 is after the window
    }
    winter = rows(
        warehouse,
        "SELECT slot_start FROM peak_demand_8am_slots WHERE practice = 'A81005' "
        "AND inbound_calls > 0",
    )
    assert winter == [{"slot_start": time(8, 0)}]  # local time after the clocks go back


def test_caller_day_attempts(warehouse: Warehouse) -> None:
    found = rows(
        warehouse,
        "SELECT caller_key, attempts, answered, first_answered_attempt, attempts_before_answer, "
        f"callback_requested FROM caller_day_attempts WHERE {A_D1} ORDER BY caller_key",
    )
    assert [tuple(r.values()) for r in found] == [
        ("K1", 2, True, 1, 0, True),
        ("K2", 4, True, 4, 3, False),
        ("K3", 1, True, 1, 0, False),
    ]


def test_repeat_callers(warehouse: Warehouse) -> None:
    row = one(warehouse, f"SELECT * FROM repeat_callers WHERE {A_D1}")
    assert row == {
        "practice": "A81001",
        "local_date": date(2026, 8, 3),
        "callers": 3,
        "callers_2plus": 2,  # K1, K2
        "callers_3plus": 1,  # K2
        "repeat_calls": 4,  # K1 1 + K2 3
        "withheld_calls": 2,  # a8, a9
        "callers_answered": 3,
        "mean_attempts_before_answer": 1.0,  # (0 + 3 + 0) / 3
        "max_attempts_before_answer": 3,
        "callers_never_answered": 0,
    }
    b99999 = one(warehouse, "SELECT * FROM repeat_callers WHERE practice = 'B99999'")
    assert b99999["callers"] == 1 and b99999["callers_never_answered"] == 1


def test_routing_effectiveness(warehouse: Warehouse) -> None:
    found = rows(
        warehouse,
        "SELECT request_type, calls, answered, right_first_time, transferred, signposted, "
        "unrouted, right_first_time_share, signposted_share, directed_share "
        f"FROM routing_effectiveness WHERE {A_D1} ORDER BY request_type",
    )
    assert [tuple(r.values()) for r in found] == [
        ("appointments", 2, 2, 1, 1, 0, 0, 0.5, 0.0, 0.5),  # a1 right, a5 transferred
        ("prescriptions", 1, 0, 0, 0, 1, 0, None, 1.0, 1.0),  # a4 sent to the pharmacy
        ("results", 1, 1, 1, 0, 0, 0, 1.0, 0.0, 1.0),  # a6
        ("unknown", 5, 1, 1, 0, 0, 4, 1.0, 0.0, 0.2),  # a2 a3 a7 a8 unrouted, a9 answered
    ]


def test_every_view_is_in_the_catalogue() -> None:
    readme = Path(__file__).resolve().parent.parent / "sql" / "README.md"
    assert render_catalogue() in readme.read_text(encoding="utf-8"), (
        "sql/README.md is out of date: run `python -m streams.warehouse.view_catalogue`"
    )


WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from analyst_support import call
from streams.settings import Settings
from streams.warehouse.store import Warehouse
with Warehouse.open(Settings(data_dir={data!r})) as warehouse:
    print("open", flush=True)
    for batch in range(12):
        warehouse.merge_calls(
            [call(f"w{{batch}}-{{i}}", "2026-08-03 08:05", practice="A81004") for i in range(25)]
        )
        time.sleep(0.1)
"""


def _doc_python_snippet() -> str:
    """The plain-duckdb Python example of docs/analysts.md, exactly as an analyst copies it."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "analysts.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    (snippet,) = [b for b in blocks if "import duckdb_extension_ducklake" in b]
    return snippet


def test_the_documented_plain_duckdb_lines_read_while_a_writer_commits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    build(settings, A81001_D1)
    tests = str(Path(__file__).resolve().parent)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(tests=tests, data=str(data))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        snippet = _doc_python_snippet().replace(
            'print(con.sql("SELECT * FROM cbt_by_level_period',
            'print(con.sql("SELECT count(*) FROM calls").fetchone()[0]); print(con.sql("SELECT * '
            "FROM cbt_by_level_period",
        )
        seen = []
        for _ in range(3):
            read = subprocess.run(
                [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True
            )
            assert read.returncode == 0, read.stderr
            # The first number printed (DuckDB may draw a progress bar on a slow query).
            counts = [line for line in read.stdout.splitlines() if line.strip().isdigit()]
            assert counts, read.stdout
            seen.append(int(counts[0]))
            assert "region" in read.stdout
        assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        writer.kill()
    assert seen == sorted(seen) and seen[0] >= 10
    with Warehouse.open(settings, read_only=True) as warehouse:
        assert warehouse.query("SELECT count(*) AS n FROM calls").item() == 10 + 12 * 25


def test_the_demo_summary_keeps_its_whole_legend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run` ends with a table of the demo day per practice; its legend, the table's
    caption, wrapped to the table's width and lost words ('CBT005 cal ... callbacks made')."""
    from streams.devtools.demo import DEMO_DAY, _summary

    settings = Settings(data_dir=tmp_path)
    build(settings, [call("d1", f"{DEMO_DAY} 08:05"), call("d2", f"{DEMO_DAY} 09:10")])
    _summary(settings)
    printed = " ".join(capsys.readouterr().out.split())
    assert "CBT summary" in printed and "A81001" in printed
    assert (
        "CBT001 inbound, CBT002 ended in IVR, CBT003 answered, CBT004 missed, CBT005 callback "
        "requested, CBT006 callbacks made; wait_p50: median wait of answered calls (s), 60s_%: "
        "answered within 60 s"
    ) in printed
