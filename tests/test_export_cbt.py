"""`callstream export cbt`: exact NHS layout for a hand-worked month, reconciliation, snapshots."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from analyst_support import build, call
from click.testing import CliRunner

from streams.cli import cli
from streams.outputs.export_cbt import (
    CbtTables,
    ExportError,
    ReconciliationError,
    export_month,
    month_range,
    publication_tables,
    reconcile,
)
from streams.settings import Settings
from streams.warehouse.store import Warehouse

A = "Y63,QHM,16C,U00351,A81001"
U = "UNMAPPED,UNMAPPED,UNMAPPED,UNMAPPED,B99999"
OUTCOME_INDICATOR = {
    "ended_in_ivr": "CBT002",
    "answered": "CBT003",
    "missed": "CBT004",
    "callback_requested": "CBT005",
}

#: A81001 (mapped) on Monday 3 August; B99999 (in no reference file) on Tuesday 4 August;
#: one call either side of the month and one outbound call, which never count.
HAND_CALLS = [
    call("c1", "2026-08-03 08:05", wait=20, talk=50),
    call("c2", "2026-08-03 08:10", wait=75, talk=200),
    call("c3", "2026-08-03 08:20", "missed", wait=400),
    call("c4", "2026-08-03 08:30", "ended_in_ivr"),
    call("c5", "2026-08-03 09:00", "callback_requested", wait=30, callback_made=True),
    call("c6", "2026-08-03 10:15", wait=0, talk=61),
    call("c7", "2026-08-03 10:20", None),
    call("c8", "2026-08-04 18:45", practice="B99999", wait=30, talk=400),
    call("c9", "2026-07-31 23:30", wait=5, talk=5),
    call("c10", "2026-09-01 00:10", wait=5, talk=5),
]

HIERARCHY = "Date,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE"
DAY_TIME = f"""{HIERARCHY},Indicator,Time_Category,Value
2026-08-03,{A},CBT001,08:00-09:59,5
2026-08-03,{A},CBT001,10:00-11:59,1
2026-08-03,{A},CBT002,08:00-09:59,1
2026-08-03,{A},CBT002,10:00-11:59,0
2026-08-03,{A},CBT003,08:00-09:59,2
2026-08-03,{A},CBT003,10:00-11:59,1
2026-08-03,{A},CBT004,08:00-09:59,1
2026-08-03,{A},CBT004,10:00-11:59,0
2026-08-03,{A},CBT005,08:00-09:59,1
2026-08-03,{A},CBT005,10:00-11:59,0
2026-08-03,{A},CBT006,08:00-09:59,1
2026-08-03,{A},CBT006,10:00-11:59,0
2026-08-04,{U},CBT001,18:30-23:59,1
2026-08-04,{U},CBT002,18:30-23:59,0
2026-08-04,{U},CBT003,18:30-23:59,1
2026-08-04,{U},CBT004,18:30-23:59,0
2026-08-04,{U},CBT005,18:30-23:59,0
2026-08-04,{U},CBT006,18:30-23:59,0
"""
DURATIONS = f"""{HIERARCHY},Indicator,Duration,Value
2026-08-03,{A},CBT007,1 minute or less,1
2026-08-03,{A},CBT007,1 to 2 minutes,1
2026-08-03,{A},CBT007,2 to 5 minutes,1
2026-08-04,{U},CBT007,over 5 minutes,1
"""
ANSWERED = f"""{HIERARCHY},Indicator,Time_Category,Wait_Time,Core_Category,Value
2026-08-03,{A},CBT003,08:00-09:59,1_30,Core_8_10,1
2026-08-03,{A},CBT003,08:00-09:59,61_90,Core_8_10,1
2026-08-03,{A},CBT003,10:00-11:59,0,Core_10_1830,1
2026-08-04,{U},CBT003,18:30-23:59,1_30,Non-Core,1
"""


def export(out: Path, *extra: str, month: str = "2026-08") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", "cbt", "--month", month, "--out", str(out), *extra])
    return result.exit_code, result.output


def test_hand_worked_month_exact_files(data_dir: Path, tmp_path: Path) -> None:
    build(Settings(data_dir=data_dir), HAND_CALLS)
    code, output = export(tmp_path / "out")
    assert code == 0, output
    out = tmp_path / "out"
    assert (out / "cbt_2026-08_day_time.csv").read_text() == DAY_TIME
    assert (out / "cbt_2026-08_durations.csv").read_text() == DURATIONS
    assert (out / "cbt_2026-08_answered.csv").read_text() == ANSWERED
    manifest = json.loads((out / "cbt_2026-08_manifest.json").read_text())
    assert manifest["month"] == "2026-08"
    assert manifest["inbound_calls"] == 7 and manifest["practices"] == 2
    assert manifest["unmapped_practices"] == 1
    assert manifest["rules_versions"] == ["test-1"]
    assert [f["rows"] for f in manifest["files"]] == [18, 4, 4]
    assert [f["value_total"] for f in manifest["files"]] == [15, 4, 4]
    assert {e["kind"] for e in manifest["reference_extracts"]} == {"mapping", "list_size"}
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        assert manifest["snapshot_id"] == warehouse.snapshot().id
    assert f"--snapshot {manifest['snapshot_id']}" in manifest["reproduce"]


def test_snapshot_reproduces_an_earlier_export(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir)
    build(settings, HAND_CALLS)
    assert export(tmp_path / "first")[0] == 0
    first = json.loads((tmp_path / "first" / "cbt_2026-08_manifest.json").read_text())
    with Warehouse.open(settings) as warehouse:  # later: more calls arrive
        warehouse.merge_calls(
            [call("late1", "2026-08-05 08:00"), call("late2", "2026-08-05 08:01")]
        )
    assert export(tmp_path / "latest")[0] == 0
    code, output = export(tmp_path / "again", "--snapshot", str(first["snapshot_id"]))
    assert code == 0, output
    for name in ("day_time", "durations", "answered"):
        csv_name = f"cbt_2026-08_{name}.csv"
        assert (tmp_path / "again" / csv_name).read_bytes() == (
            tmp_path / "first" / csv_name
        ).read_bytes()
    latest = (tmp_path / "latest" / "cbt_2026-08_day_time.csv").read_text()
    assert "2026-08-05" in latest and latest != DAY_TIME
    again = json.loads((tmp_path / "again" / "cbt_2026-08_manifest.json").read_text())
    assert again["snapshot_id"] == first["snapshot_id"]
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in first["files"]]


def test_an_answered_call_not_ended_fails_reconciliation_and_writes_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    open_call = call(
        "open1",
        "2026-08-03 11:00",
        talk_s=None,
        duration_bucket=None,
        complete=False,
        ended_at=None,
    )
    assert open_call.duration_bucket is None
    build(Settings(data_dir=data_dir), [*HAND_CALLS, open_call])
    code, output = export(tmp_path / "out")
    assert code == 1
    assert "CBT007 total 4 != CBT003 total 5 (1 answered calls have not ended)" in output
    assert "A81001:open1" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_month_and_missing_warehouse_are_one_line_errors(
    data_dir: Path, tmp_path: Path
) -> None:
    code, output = export(tmp_path / "out", month="2026-13")
    assert code == 1 and "--month '2026-13' is not a month like 2026-08" in output
    code, output = export(tmp_path / "out")
    assert code == 1 and "no warehouse" in output


def test_month_range_crosses_the_year() -> None:
    assert [d.isoformat() for d in month_range("2026-12")] == ["2026-12-01", "2027-01-01"]
    with pytest.raises(ExportError):
        month_range("August")


def _tables(day_rows: list[tuple[str, str, int]], durations: int, answered: int) -> CbtTables:
    day = pl.DataFrame(
        {
            "Date": ["2026-08-03"] * len(day_rows),
            "PRACTICE_CODE": [r[0] for r in day_rows],
            "Indicator": [r[1] for r in day_rows],
            "Value": [r[2] for r in day_rows],
        }
    )
    return CbtTables(
        day_time=day,
        durations=pl.DataFrame({"Value": [durations]}),
        answered=pl.DataFrame({"Value": [answered]}),
    )


def test_reconcile_names_the_practice_day_that_does_not_add_up() -> None:
    good = [("A81001", "CBT001", 4), ("A81001", "CBT002", 1), ("A81001", "CBT003", 2)]
    good += [("A81001", "CBT004", 1), ("A81001", "CBT005", 0), ("A81001", "CBT006", 0)]
    reconcile(_tables(good, durations=2, answered=2))
    bad = [(p, i, v + 1 if i == "CBT001" else v) for p, i, v in good]
    with pytest.raises(ReconciliationError, match=r"A81001 2026-08-03: CBT001 5 != .* 1\+2\+1\+0"):
        reconcile(_tables(bad, durations=2, answered=2))
    callbacks = [(p, i, 1 if i == "CBT006" else v) for p, i, v in good]
    with pytest.raises(ReconciliationError, match="CBT006 1 > CBT005 0"):
        reconcile(_tables(callbacks, durations=2, answered=2))
    with pytest.raises(ReconciliationError, match="answered file total 3 != CBT003 total 2"):
        reconcile(_tables(good, durations=2, answered=3))


def test_simulated_month_of_20_practices_reconciles_and_matches_the_truth(
    data_dir: Path, tmp_path: Path
) -> None:
    """simulate -> classify -> warehouse -> export, no Kafka: the export passes its own
    reconciliation, and every practice-day's CBT001-CBT006 equals what the simulator meant."""
    from models.events import CallEvent
    from streams.core.classify import classify_call
    from streams.core.pseudonymise import pseudonymise
    from streams.core.rules import load_rules
    from streams.devtools.simulate import SimulationConfig, simulate

    rules = load_rules()
    config = SimulationConfig(practices=20, start=date(2026, 8, 1), days=31, seed=11, key=b"t")
    truth: Counter[tuple[str, str, str]] = Counter()
    buckets: Counter[tuple[str, str, str | None]] = Counter()
    calls = []
    for simulated in simulate(config, rules):
        events = [pseudonymise(CallEvent.model_validate(e), config.key) for e in simulated.events]
        calls.append(classify_call(events, rules))
        t = simulated.truth
        if t.inbound:
            day = t.local_date.isoformat()
            truth[(t.practice, day, "CBT001")] += 1
            truth[(t.practice, day, OUTCOME_INDICATOR[t.outcome])] += 1
            truth[(t.practice, day, "CBT006")] += t.outcome == "callback_requested" and (
                t.callback_made
            )
            if t.outcome == "answered":
                buckets[(t.practice, "duration", t.duration_bucket)] += 1
                buckets[(t.practice, "wait", t.wait_bucket)] += 1
                buckets[(t.practice, "core", t.core_category)] += 1
    build(Settings(data_dir=data_dir), calls)
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        result = export_month(warehouse, "2026-08", tmp_path / "out")
    day_time = pl.read_csv(result.files[0], infer_schema=False)
    exported = day_time.group_by("PRACTICE_CODE", "Date", "Indicator").agg(
        pl.col("Value").cast(pl.Int64).sum()
    )
    got = {(r[0], r[1], r[2]): r[3] for r in exported.iter_rows() if r[3]}
    assert got == {k: v for k, v in truth.items() if v}
    assert len({k[0] for k in got}) == 20
    by_bucket: Counter[tuple[str, str, str | None]] = Counter()
    for kind, path, column in (
        ("duration", result.files[1], "Duration"),
        ("wait", result.files[2], "Wait_Time"),
        ("core", result.files[2], "Core_Category"),
    ):
        for row in pl.read_csv(path, infer_schema=False).iter_rows(named=True):
            by_bucket[(row["PRACTICE_CODE"], kind, row[column])] += int(row["Value"])
    assert by_bucket == buckets
    manifest = json.loads(result.manifest.read_text())
    assert manifest["inbound_calls"] == sum(v for k, v in truth.items() if k[2] == "CBT001")
    assert manifest["inbound_calls"] > 50_000
    assert manifest["unmapped_practices"] == 16  # the fixture maps A81001, A81002, A81004, A81005


def test_a_label_outside_the_nhs_set_is_refused_not_exported() -> None:
    def frame(band: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "local_date": [date(2026, 8, 3)],
                "region_code": ["Y63"],
                "icb_code": ["QHM"],
                "sub_icb_code": ["16C"],
                "pcn_code": ["U00351"],
                "practice": ["A81001"],
                "indicator": ["CBT001"],
                "time_band": [band],
                "value": [1],
            }
        )

    empty = pl.DataFrame()
    assert publication_tables(frame("08:00-09:59"), empty, empty).day_time.height == 1
    with pytest.raises(ExportError, match=r"Time_Category .* \['08:00-08:59'\]"):
        publication_tables(frame("08:00-08:59"), empty, empty)
