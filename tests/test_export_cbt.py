"""`callstream export cbt`: NHS England's packaging and layout for a hand-worked month,
reconciliation, snapshots, and a simulated month against the simulator's truth."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from analyst_support import build, call
from click.testing import CliRunner

from streams.cli import cli
from streams.core import cbt_publication as nhs
from streams.outputs.export_cbt import (
    ExportError,
    ReconciliationError,
    export_month,
    month_range,
    reconcile,
)
from streams.settings import Settings
from streams.warehouse.store import Warehouse

A = "Y63,QHM,16C,U00351,A81001"
U = "Unmapped,Unmapped,Unmapped,Unmapped,B99999"
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
HEADERS = {
    "day_time": f"{HIERARCHY},Indicator,Time_Category,Value\n",
    "durations": f"{HIERARCHY},Indicator,Duration,Value\n",
    "answered": f"{HIERARCHY},Indicator,Wait_Time,Core_Category,Value\n",
}
#: The rows by region CSV: A81001 is in region Y63, B99999 in none (Unmapped). Zero rows are
#: not written; counts are floats; CBT007 is in the day and time file too.
ROWS = {
    ("day_time", "Y63"): f"""2026-08-03,{A},CBT001,08:00-09:59,5.0
2026-08-03,{A},CBT001,10:00-11:59,1.0
2026-08-03,{A},CBT002,08:00-09:59,1.0
2026-08-03,{A},CBT003,08:00-09:59,2.0
2026-08-03,{A},CBT003,10:00-11:59,1.0
2026-08-03,{A},CBT004,08:00-09:59,1.0
2026-08-03,{A},CBT005,08:00-09:59,1.0
2026-08-03,{A},CBT006,08:00-09:59,1.0
2026-08-03,{A},CBT007,08:00-09:59,2.0
2026-08-03,{A},CBT007,10:00-11:59,1.0
""",
    ("day_time", "Unmapped"): f"""2026-08-04,{U},CBT001,18:30-23:59,1.0
2026-08-04,{U},CBT003,18:30-23:59,1.0
2026-08-04,{U},CBT007,18:30-23:59,1.0
""",
    ("durations", "Y63"): f"""2026-08-03,{A},CBT001,TOTAL,6.0
2026-08-03,{A},CBT002,TOTAL,1.0
2026-08-03,{A},CBT003,0,1.0
2026-08-03,{A},CBT003,1_30,1.0
2026-08-03,{A},CBT003,61_90,1.0
2026-08-03,{A},CBT004,>300,1.0
2026-08-03,{A},CBT005,TOTAL,1.0
2026-08-03,{A},CBT006,TOTAL,1.0
2026-08-03,{A},CBT007,0_60,1.0
2026-08-03,{A},CBT007,61_120,1.0
2026-08-03,{A},CBT007,121_300,1.0
""",
    ("durations", "Unmapped"): f"""2026-08-04,{U},CBT001,TOTAL,1.0
2026-08-04,{U},CBT003,1_30,1.0
2026-08-04,{U},CBT007,>300,1.0
""",
    ("answered", "Y63"): f"""2026-08-03,{A},CBT003,0,Core_10_1830,1.0
2026-08-03,{A},CBT003,1_30,Core_8_10,1.0
2026-08-03,{A},CBT003,61_90,Core_8_10,1.0
""",
    ("answered", "Unmapped"): f"""2026-08-04,{U},CBT003,1_30,Non-Core,1.0
""",
}
ZIPS = {
    "day_time": "Cloud Based Telephony By Day and Time - August 2026",
    "durations": "Cloud Based Telephony By Durations - August 2026",
    "answered": "Cloud Based Telephony Calls Answered Metric - August 2026",
}
REGIONS = ["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63", "Unmapped"]


def export(out: Path | None, *extra: str, month: str = "2026-08") -> tuple[int, str]:
    where = ["--out", str(out)] if out is not None else []
    result = CliRunner().invoke(cli, ["export", "cbt", "--month", month, *where, *extra])
    return result.exit_code, result.output


def assert_same_zips(one: Path, other: Path) -> None:
    """The three zips in ``one`` and ``other`` are byte for byte the same."""
    for title in ZIPS.values():
        name = f"{title}.zip"
        assert (one / name).read_bytes() == (other / name).read_bytes(), name


def members(path: Path) -> dict[str, str]:
    """A zip's CSVs, name -> text, in the zip's order."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_hand_worked_month_is_nhs_englands_packaging_file_for_file(
    data_dir: Path, tmp_path: Path
) -> None:
    build(Settings(data_dir=data_dir), HAND_CALLS)
    out = tmp_path / "out"
    code, output = export(out)
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{title}.zip" for title in ZIPS.values()] + ["cbt_2026-08_manifest.json"]
    )
    for kind, title in ZIPS.items():
        got = members(out / f"{title}.zip")
        assert list(got) == [f"{title}_{region}.csv" for region in REGIONS]
        for region in REGIONS:
            expected = HEADERS[kind] + ROWS.get((kind, region), "")
            assert got[f"{title}_{region}.csv"] == expected, (kind, region)
    answered_header = HEADERS["answered"].strip().split(",")
    assert "Time_Category" not in answered_header
    assert answered_header == list(nhs.LAYOUTS[nhs.FileKind.answered].header)
    manifest = json.loads((out / "cbt_2026-08_manifest.json").read_text())
    assert manifest["month"] == "2026-08" and manifest["layout"] == "NHS England zips"
    assert manifest["inbound_calls"] == 7 and manifest["practices"] == 2
    assert manifest["unmapped_practices"] == 1
    assert manifest["rules_versions"] == ["test-1"]
    assert [f["rows"] for f in manifest["files"]] == [13, 14, 4]
    assert [f["value_total"] for f in manifest["files"]] == [
        5 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 2 + 1 + 3,
        6 + 1 + 3 + 1 + 1 + 1 + 3 + 3,
        4,
    ]
    assert set(manifest["layout_choices"]) == {choice.name for choice in nhs.CHOICES}
    assert {e["kind"] for e in manifest["reference_extracts"]} == {"mapping", "list_size"}
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        assert manifest["snapshot_id"] == warehouse.snapshot().id
    assert f"--snapshot {manifest['snapshot_id']}" in manifest["reproduce"]


def test_a_practice_known_only_by_its_list_size_is_counted_as_unmapped(
    data_dir: Path, tmp_path: Path
) -> None:
    """B99999 is in a list-size extract but in no practice mapping: no region, so its rows
    go in the Unmapped CSV, and the manifest counts it as unmapped."""
    from streams.core import reference
    from streams.warehouse import reference_store

    settings = Settings(data_dir=data_dir)
    build(settings, HAND_CALLS)
    sizes = (
        "PUBLICATION,EXTRACT_DATE,TYPE,SUB_ICB_LOCATION_CODE,ONS_SUB_ICB_LOCATION_CODE,CODE,"
        "POSTCODE,SEX,AGE,NUMBER_OF_PATIENTS\n"
        "GP_PRAC_PAT_LIST,01AUG2026,GP,16C,E38000247,B99999,TS1 1AA,ALL,ALL,5000\n"
    )
    with Warehouse.open(settings) as warehouse:
        reference_store.load(warehouse, reference.parse(sizes), "gp-reg-pat-prac-all.csv")
    assert export(tmp_path / "out")[0] == 0
    unmapped = members(tmp_path / "out" / f"{ZIPS['day_time']}.zip")[
        f"{ZIPS['day_time']}_Unmapped.csv"
    ]
    assert ",B99999," in unmapped
    manifest = json.loads((tmp_path / "out" / "cbt_2026-08_manifest.json").read_text())
    assert manifest["unmapped_practices"] == 1


def test_durations_total_for_cbt001_equals_cbt001_by_day_and_time(
    data_dir: Path, tmp_path: Path
) -> None:
    build(Settings(data_dir=data_dir), HAND_CALLS)
    assert export(tmp_path / "out", "--flat")[0] == 0
    day_time = pl.read_csv(tmp_path / "out" / "cbt_2026-08_day_time.csv", infer_schema=False)
    durations = pl.read_csv(tmp_path / "out" / "cbt_2026-08_durations.csv", infer_schema=False)

    def cbt001(frame: pl.DataFrame, *where: pl.Expr) -> dict[tuple[str, str], float]:
        rows = frame.filter(pl.col("Indicator") == "CBT001", *where)
        summed = rows.group_by("Date", "PRACTICE_CODE").agg(pl.col("Value").cast(pl.Float64).sum())
        return {(r[0], r[1]): r[2] for r in summed.iter_rows()}

    totals = cbt001(durations, pl.col("Duration") == "TOTAL")
    assert (
        totals == cbt001(day_time) == {("2026-08-03", "A81001"): 6.0, ("2026-08-04", "B99999"): 1.0}
    )


def test_flat_writes_the_same_rows_as_three_plain_csvs(data_dir: Path, tmp_path: Path) -> None:
    build(Settings(data_dir=data_dir), HAND_CALLS)
    code, output = export(tmp_path / "flat", "--flat")
    assert code == 0, output
    for kind in ZIPS:
        text = (tmp_path / "flat" / f"cbt_2026-08_{kind}.csv").read_text()
        assert text == HEADERS[kind] + ROWS[(kind, "Y63")] + ROWS[(kind, "Unmapped")]
    manifest = json.loads((tmp_path / "flat" / "cbt_2026-08_manifest.json").read_text())
    assert manifest["layout"] == "flat CSVs" and manifest["reproduce"].endswith("--flat")


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
    assert_same_zips(tmp_path / "again", tmp_path / "first")
    latest = members(tmp_path / "latest" / f"{ZIPS['day_time']}.zip")
    assert "2026-08-05" in latest[f"{ZIPS['day_time']}_Y63.csv"]
    again = json.loads((tmp_path / "again" / "cbt_2026-08_manifest.json").read_text())
    assert again["snapshot_id"] == first["snapshot_id"]
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in first["files"]]


def test_a_commit_during_the_export_does_not_reach_its_files(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker commits while the export runs (after its reconciliation here): the files
    are still those of the one snapshot the manifest names, byte for byte."""
    from streams.outputs import export_cbt

    settings = Settings(data_dir=data_dir)
    build(settings, HAND_CALLS)
    checked = export_cbt.reconcile

    def then_the_worker_commits(*args: Any) -> dict[str, int]:
        allowed = checked(*args)
        with Warehouse.open(settings) as worker:
            worker.merge_calls([call("late1", "2026-08-03 10:30", wait=10, talk=30)])
        return allowed

    monkeypatch.setattr(export_cbt, "reconcile", then_the_worker_commits)
    code, output = export(tmp_path / "during")
    assert code == 0, output
    monkeypatch.setattr(export_cbt, "reconcile", checked)
    manifest = json.loads((tmp_path / "during" / "cbt_2026-08_manifest.json").read_text())
    code, output = export(tmp_path / "again", "--snapshot", str(manifest["snapshot_id"]))
    assert code == 0, output
    assert_same_zips(tmp_path / "during", tmp_path / "again")
    day_time = members(tmp_path / "during" / f"{ZIPS['day_time']}.zip")
    a81001 = day_time[f"{ZIPS['day_time']}_Y63.csv"]
    assert f"2026-08-03,{A},CBT001,10:00-11:59,1.0" in a81001.splitlines()  # c6, not late1
    assert manifest["inbound_calls"] == 7  # and c8: late1 came after the snapshot read


def test_figures_the_worker_has_not_recounted_yet_stop_the_export(
    data_dir: Path, tmp_path: Path
) -> None:
    """Under load a commit writes its calls and leaves their facts to a later one (table
    fact_backlog): an export then would publish figures that lag the calls."""
    settings = Settings(data_dir=data_dir)
    build(settings, HAND_CALLS)
    with Warehouse.open(settings) as worker:
        worker.conn.execute(
            "INSERT INTO fact_backlog VALUES ('A81001', DATE '2026-08-03', now()), "
            "('A81001', DATE '2026-09-01', now())"
        )
    code, output = export(tmp_path / "out")
    assert code == 1
    assert "1 practice-day(s) of 2026-08 (from 2026-08-03) have calls" in output
    assert "export again in a minute" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()
    with Warehouse.open(settings) as worker:  # the worker's next commit with facts
        worker.conn.execute("DELETE FROM fact_backlog WHERE local_date < DATE '2026-09-01'")
    assert export(tmp_path / "out")[0] == 0  # September's backlog is no business of August


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
    assert "CBT007 total 4 != CBT003 total 5" in output
    assert "1 calls have not ended (1 answered) at 1 practices: A81001 1 on 2026-08-03" in output
    assert "A81001:open1" in output and "Traceback" not in output
    assert "send the phone system's events for those days again" in output
    assert "or export without their talk and wait with --allow-unended" in output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # The practice manager cannot always resend (the phone system lost the end): export
    # anyway, the call in CBT001 and CBT003, not in CBT007 by talk, and the manifest says so.
    code, output = export(tmp_path / "out", "--allow-unended")
    assert code == 0, output
    day_time = members(tmp_path / "out" / f"{ZIPS['day_time']}.zip")[f"{ZIPS['day_time']}_Y63.csv"]
    assert f"2026-08-03,{A},CBT003,10:00-11:59,2.0" in day_time  # c6 and open1
    durations = members(tmp_path / "out" / f"{ZIPS['durations']}.zip")
    rows = ROWS[("durations", "Y63")].replace(f"{A},CBT001,TOTAL,6.0", f"{A},CBT001,TOTAL,7.0")
    rows = rows.replace(f"{A},CBT003,1_30,1.0", f"{A},CBT003,1_30,2.0")  # its wait is known
    assert durations[f"{ZIPS['durations']}_Y63.csv"] == HEADERS["durations"] + rows
    manifest = json.loads((tmp_path / "out" / "cbt_2026-08_manifest.json").read_text())
    assert manifest["unended_calls"] == {"answered": 1, "missed": 0}
    assert "--allow-unended: 1 answered with no talk time, 0 missed" in manifest["reconciliation"]
    assert manifest["reproduce"].endswith(f"--snapshot {manifest['snapshot_id']} --allow-unended")


def test_allowing_unended_calls_excuses_only_a_shortfall_of_exactly_them() -> None:
    one = pl.DataFrame(
        {"practice": ["A81001"], "call_id": ["a1"], "local_date": [date(2026, 8, 3)],
         "outcome": ["answered"]}
    )  # fmt: skip
    short_one = _check([GOOD | {"cbt007_by_duration": 1}])
    assert reconcile(short_one, NO_LABELS, lambda: one, allow_unended=True) == {
        "answered": 1,
        "missed": 0,
    }
    assert reconcile(_check([GOOD]), NO_LABELS, _not_read, allow_unended=True) == {
        "answered": 0,
        "missed": 0,
    }
    with pytest.raises(ReconciliationError, match="CBT007 total 0 != CBT003 total 2") as caught:
        reconcile(_check([GOOD | {"cbt007_by_duration": 0}]), NO_LABELS, lambda: one, True)
    assert str(caught.value).endswith(
        ". --allow-unended does not cover it: the shortfall (2 answered without talk time, 0 "
        "missed without wait) is not the calls not ended (1 answered, 0 missed)"
    )
    with pytest.raises(ReconciliationError, match="CBT007 total 1 != CBT003 total 2"):
        reconcile(short_one, NO_LABELS, lambda: one)  # not asked for


def test_an_answer_whose_time_was_not_recorded_is_counted_and_left_out_of_the_timed_files(
    data_dir: Path, tmp_path: Path
) -> None:
    """A CDR queue call without its member's leg: answered (CBT001, CBT003 in the day and
    time file) but neither wait nor talk is known, so neither the answered file (by wait)
    nor the durations file (CBT007 by talk) can hold it. The month still exports; it did
    not, with a message that said the call had not ended, which resending could never fix."""
    untimed = call("u1", "2026-08-03 11:00", wait_s=None, wait_bucket=None, talk_s=None)
    untimed = untimed.model_copy(update={"duration_bucket": None})
    build(Settings(data_dir=data_dir), [*HAND_CALLS, untimed])
    code, output = export(tmp_path / "out")
    assert code == 0, output
    day_time = members(tmp_path / "out" / f"{ZIPS['day_time']}.zip")[f"{ZIPS['day_time']}_Y63.csv"]
    assert f"2026-08-03,{A},CBT003,10:00-11:59,2.0" in day_time  # c6 and u1
    assert f"2026-08-03,{A},CBT007,10:00-11:59,2.0" in day_time  # equals CBT003 in count
    for kind in ("answered", "durations"):  # as without u1, but for CBT001's TOTAL
        text = members(tmp_path / "out" / f"{ZIPS[kind]}.zip")[f"{ZIPS[kind]}_Y63.csv"]
        rows = ROWS[(kind, "Y63")].replace(f"{A},CBT001,TOTAL,6.0", f"{A},CBT001,TOTAL,7.0")
        assert text == HEADERS[kind] + rows
    manifest = json.loads((tmp_path / "out" / "cbt_2026-08_manifest.json").read_text())
    assert manifest["answered_time_unknown"] == 1


def test_the_calls_that_have_not_ended_are_named_by_practice_and_day_most_first() -> None:
    unended = pl.DataFrame(
        {
            "practice": ["A81001", "F84003", "F84003", "F84003"],
            "call_id": ["a1", "f1", "f2", "f3"],
            "local_date": [date(2026, 8, 10), date(2026, 8, 11), date(2026, 8, 11),
                           date(2026, 8, 21)],
            "outcome": ["answered", "answered", "missed", "answered"],
        }
    )  # fmt: skip
    with pytest.raises(ReconciliationError) as caught:
        reconcile(
            _check([GOOD | {"cbt007_by_duration": 1, "cbt004_by_wait": 0}]),
            NO_LABELS,
            lambda: unended,
        )
    assert (
        "4 calls have not ended (3 answered, 1 missed) at 2 practices: "
        "F84003 3 on 2026-08-11, 2026-08-21 (e.g. F84003:f1); "
        "A81001 1 on 2026-08-10 (e.g. A81001:a1)"
    ) in str(caught.value)


def test_bad_month_and_missing_warehouse_are_one_line_errors(
    data_dir: Path, tmp_path: Path
) -> None:
    code, output = export(tmp_path / "out", month="2026-13")
    assert code == 1 and "--month '2026-13' is not a month like 2026-08" in output
    code, output = export(tmp_path / "out")
    assert code == 1 and "no warehouse" in output
    code, output = export(None)
    assert code == 2 and "give --out DIR" in output


def test_a_month_not_begun_or_not_plainly_written_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    """A future month wrote a full publication of nothing (exit 0); 9999-12 ended in a raw
    'year 10000 is out of range'; full-width digits named the files with them."""
    build(Settings(data_dir=data_dir), HAND_CALLS)
    code, output = export(tmp_path / "out", month="2099-12")
    assert code == 1 and "--month 2099-12 has not begun" in output, output
    assert not (tmp_path / "out").exists()
    for month in ("9999-12", "\uff12\uff10\uff12\uff16-08"):
        code, output = export(tmp_path / "out", month=month)
        assert code == 1 and "is not a month like 2026-08" in output, output


def test_a_folder_in_the_way_stops_the_export_before_any_file_is_moved(
    data_dir: Path, tmp_path: Path
) -> None:
    """It moved the zips into place and then failed on the manifest: zips with no manifest,
    or an older manifest describing other files."""
    build(Settings(data_dir=data_dir), HAND_CALLS)
    (tmp_path / "out" / "cbt_2026-08_manifest.json").mkdir(parents=True)
    code, output = export(tmp_path / "out")
    assert code == 1 and "cbt_2026-08_manifest.json: a folder of that name is in the way" in output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cbt_2026-08_manifest.json"]


def test_month_range_crosses_the_year() -> None:
    assert [d.isoformat() for d in month_range("2026-12")] == ["2026-12-01", "2027-01-01"]
    with pytest.raises(ExportError):
        month_range("August")
    with pytest.raises(ExportError, match="not a month like 2026-08"):
        month_range("2026-8")


def _check(rows: list[dict[str, int]]) -> pl.DataFrame:
    base = {"practice": "A81001", "local_date": date(2026, 8, 3), "mapped": True}
    return pl.DataFrame([base | row for row in rows])


GOOD = dict(cbt001=4, cbt002=1, cbt003=2, cbt004=1, cbt005=0, cbt006=0, cbt007=2, incomplete=0)
GOOD |= dict(cbt003_by_wait=2, cbt004_by_wait=1, cbt007_by_duration=2, cbt003_time_unknown=0)
NO_LABELS = pl.DataFrame(
    schema={"category": pl.String, "indicator": pl.String, "label": pl.String, "calls": pl.Int64}
)


def _not_read() -> pl.DataFrame:
    raise AssertionError("the unended calls were read although the totals agree")


def test_reconcile_names_the_practice_day_that_does_not_add_up() -> None:
    reconcile(_check([GOOD]), NO_LABELS, _not_read)
    with pytest.raises(ReconciliationError, match=r"A81001 2026-08-03: CBT001 5 != .* 1\+2\+1\+0"):
        reconcile(_check([GOOD | {"cbt001": 5}]), NO_LABELS, _not_read)
    with pytest.raises(ReconciliationError, match="CBT006 1 > CBT005 0"):
        reconcile(_check([GOOD | {"cbt006": 1}]), NO_LABELS)
    with pytest.raises(ReconciliationError, match="answered file total 1 != CBT003 total 2"):
        reconcile(_check([GOOD | {"cbt003_by_wait": 1}]), NO_LABELS)
    with pytest.raises(
        ReconciliationError,
        match=r"CBT004 by wait total 0 != CBT004 total 1 "
        r"\(1 missed calls have no wait",
    ):
        reconcile(_check([GOOD | {"cbt004_by_wait": 0}]), NO_LABELS)


def test_a_label_outside_the_nhs_set_is_refused_not_exported() -> None:
    unknown = pl.DataFrame(
        {
            "category": ["Time_Category"],
            "indicator": ["CBT001"],
            "label": ["08:00-08:59"],
            "calls": [3],
        }
    )
    with pytest.raises(
        ReconciliationError, match=r"Time_Category '08:00-08:59' of CBT001 \(3 calls\)"
    ):
        reconcile(_check([GOOD]), unknown)


def test_simulated_month_of_5_practices_reconciles_and_matches_the_truth(
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
    config = SimulationConfig(practices=5, start=date(2026, 8, 1), days=31, seed=11, key=b"t")
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
    files = {path.name.split(" - ")[0]: _read_zip(path) for path in result.files}
    day_time = files["Cloud Based Telephony By Day and Time"]
    exported = (
        day_time.filter(pl.col("Indicator") != "CBT007")
        .group_by("PRACTICE_CODE", "Date", "Indicator")
        .agg(pl.col("Value").cast(pl.Float64).sum())
    )
    got = {(r[0], r[1], r[2]): r[3] for r in exported.iter_rows()}
    assert got == {k: float(v) for k, v in truth.items() if v}
    assert len({k[0] for k in got}) == 5
    durations = files["Cloud Based Telephony By Durations"]
    answered = files["Cloud Based Telephony Calls Answered Metric"]
    labels = {label: ours for ours, label in nhs.DURATION_LABELS.items()}
    by_bucket: Counter[tuple[str, str, str | None]] = Counter()
    for kind, frame, column in (
        ("duration", durations.filter(pl.col("Indicator") == "CBT007"), "Duration"),
        ("wait", answered, "Wait_Time"),
        ("core", answered, "Core_Category"),
    ):
        for row in frame.iter_rows(named=True):
            label = labels.get(row[column], row[column]) if kind == "duration" else row[column]
            by_bucket[(row["PRACTICE_CODE"], kind, label)] += int(float(row["Value"]))
    assert by_bucket == buckets
    manifest = json.loads(result.manifest.read_text())
    assert manifest["inbound_calls"] == sum(v for k, v in truth.items() if k[2] == "CBT001")
    assert manifest["inbound_calls"] > 10_000
    mapped = {"A81001", "A81002", "A81004", "A81005"}  # the practices the fixture maps
    unmapped = {k[0] for k in got} - mapped
    assert unmapped and manifest["unmapped_practices"] == len(unmapped)


def _read_zip(path: Path) -> pl.DataFrame:
    """Every CSV of a zip as one frame of text columns."""
    with zipfile.ZipFile(path) as archive:
        return pl.concat(
            pl.read_csv(archive.read(name), infer_schema=False) for name in archive.namelist()
        )
