"""The NHS CBT publication layout and its reader (pure: no warehouse)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from streams.core import cbt_publication as nhs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "analysts.md"
AUGUST = date(2026, 8, 1)
LATEST = date(2026, 9, 30)


def read(name: str, text: str) -> tuple[nhs.ParsedCsv, list[dict[str, list]]]:
    parsed, batches = nhs.read_csv(name, iter(text.splitlines(keepends=True)), LATEST)
    return parsed, list(batches)


def test_names_follow_nhs_englands_packaging() -> None:
    assert nhs.zip_name(nhs.FileKind.day_time, AUGUST) == (
        "Cloud Based Telephony By Day and Time - August 2026.zip"
    )
    assert nhs.zip_name(nhs.FileKind.answered, AUGUST) == (
        "Cloud Based Telephony Calls Answered Metric - August 2026.zip"
    )
    assert nhs.member_name(nhs.FileKind.durations, AUGUST, "Unmapped") == (
        "Cloud Based Telephony By Durations - August 2026_Unmapped.csv"
    )
    assert nhs.members(["Y63", "Unmapped"]) == [*nhs.REGIONS, "Unmapped"]
    assert nhs.members(["Y63", "Q99"]) == [*nhs.REGIONS, "Q99", "Unmapped"]
    assert nhs.member_of("x.zip/Cloud Based Telephony By Durations - August 2026_Y56.csv") == "Y56"
    assert nhs.member_of("cbt_2026-08_day_time.csv") == nhs.ALL_REGIONS


def test_every_layout_choice_is_listed_for_analysts() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for choice in nhs.CHOICES:
        assert f"`{choice.name}`" in text, f"docs/analysts.md does not list {choice.name}"


def test_labels_cover_every_indicator_of_each_file() -> None:
    rows = nhs.label_rows()
    durations = {(r.indicator, r.label) for r in rows if r.category == "Duration"}
    assert {i for i, label in durations if label == nhs.TOTAL} == set(nhs.UNTIMED)
    assert {i for i, label in durations if label == ">300"} == {"CBT003", "CBT004", "CBT007"}
    assert {r.indicator for r in rows if r.category == "Wait_Time"} == {"CBT003"}
    assert set(nhs.UNTIMED) | set(nhs.BY_WAIT) | set(nhs.BY_DURATION) == set(nhs.INDICATORS)


def test_reads_nhs_englands_forms_of_a_file() -> None:
    """A byte-order mark, CRLF, a date with a time, counts as 12, 12.0 or 1.2e1, Unassigned."""
    text = (
        "\ufeffDate,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,"
        "Indicator,Duration,Value\r\n"
        "2026-08-03,Y56,QMJ,93C,U12345,F84001,CBT001,TOTAL,12\r\n"
        "2026-08-03 00:00:00,Y56,QMJ,93C,Unmapped,Unassigned,CBT003,>300,12.0\r\n"
        "\r\n"
        "03/08/2026,Unmapped,Unmapped,Unmapped,Unmapped,Unassigned,CBT007,301_600,1.2e1\r\n"
    )
    parsed, batches = read("Cloud Based Telephony By Durations - August 2026_Y56.csv", text)
    assert (parsed.kind, parsed.member, parsed.month) == (nhs.FileKind.durations, "Y56", AUGUST)
    assert (parsed.rows, parsed.value_total) == (3, 36)
    [batch] = batches
    assert batch["local_date"] == [date(2026, 8, 3)] * 3
    assert batch["practice"] == ["F84001", "Unassigned", "Unassigned"]
    assert batch["duration"] == ["TOTAL", ">300", "301_600"]
    assert batch["time_band"] == [None] * 3
    assert batch["source_line"] == [2, 3, 5]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("2026-08-32,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1", "Date '2026-08-32' is not a date"),
        ("2026-08-03,,Q,9,U,F84001,CBT001,08:00-09:59,1", "REGION_CODE is empty"),
        ("2026-08-03,Y56,Q,9,U,F8400,CBT001,08:00-09:59,1", "PRACTICE_CODE 'F8400' is not an"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT008,08:00-09:59,1", "Indicator 'CBT008' is not one"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-08:59,1", "Time_Category '08:00-08:59' is"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,-1", "Value '-1' is not a count"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,x", "Value 'x' is not a number"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59", "has 8 fields, the header 9"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1e19", "Value '1e19' is more than 1,0"),
        # 2**53 + 1: a float would round it to 2**53 and load it without a word
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,9007199254740993", "Value '9007"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,nan", "Value 'nan' is not a count"),
        ("2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,inf", "Value 'inf' is not a count"),
        ("2025-09-30,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1", "Date '2025-09-30' is before October"),
        ("1999-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1", "Date '1999-08-03' is before October"),
        ("2026-10-01,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1", "Date '2026-10-01' is after today"),
        (
            '2026-08-03,Y56,Q,9,U,F84001,CBT001,"' + "x" * 140_000 + '",1',
            "is not CSV (field larger",
        ),
    ],
)
def test_a_bad_line_names_file_line_and_field(line: str, error: str) -> None:
    header = ",".join(nhs.LAYOUTS[nhs.FileKind.day_time].header)
    good = "2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1"
    with pytest.raises(nhs.PublishedFileError, match=re.escape(f"f.csv, line 3: {error}")):
        read("f.csv", f"{header}\n{good}\n{line}\n")


def test_a_header_only_csv_has_no_month_and_an_empty_file_is_refused() -> None:
    header = ",".join(nhs.LAYOUTS[nhs.FileKind.answered].header)
    parsed, batches = read("a.csv", header + "\n")
    assert (parsed.kind, batches, parsed.month) == (nhs.FileKind.answered, [], None)
    with pytest.raises(nhs.PublishedFileError, match="e.csv: the file is empty"):
        read("e.csv", "")


@pytest.mark.parametrize(
    ("kind", "line", "error"),
    [
        (
            nhs.FileKind.answered,
            "CBT004,0_60,Core_8_10,1",
            "Indicator 'CBT004' is not in the Cloud",
        ),
        (nhs.FileKind.durations, "CBT001,0_60,1", "Duration '0_60' for CBT001: it is TOTAL"),
        (nhs.FileKind.durations, "CBT003,TOTAL,1", "Duration 'TOTAL' for CBT003: it is a wait"),
        (nhs.FileKind.durations, "CBT007,TOTAL,1", "Duration 'TOTAL' for CBT007: it is a wait"),
    ],
)
def test_an_indicator_only_where_its_file_carries_it(
    kind: nhs.FileKind, line: str, error: str
) -> None:
    """The answered file is CBT003's only; the durations file has TOTAL for the untimed
    indicators and a range for the timed ones (a TOTAL there would be counted beside them)."""
    header = ",".join(nhs.LAYOUTS[kind].header)
    with pytest.raises(nhs.PublishedFileError, match=re.escape(f"f.csv, line 2: {error}")):
        read("f.csv", f"{header}\n2026-08-03,Y56,Q,9,U,F84001,{line}\n")


def test_blank_lines_are_skipped_but_not_without_end() -> None:
    header = ",".join(nhs.LAYOUTS[nhs.FileKind.day_time].header)
    good = "2026-08-03,Y56,Q,9,U,F84001,CBT001,08:00-09:59,1\n"
    parsed, _ = read("f.csv", header + "\n" + "\n" * nhs.MAX_BLANK_LINES + good)
    assert parsed.rows == 1 and parsed.regions == {"Y56"}
    with pytest.raises(nhs.PublishedFileError, match=r"f.csv, line 1002: more than 1,000 blank"):
        read("f.csv", header + "\n" + " ,\n" * (nhs.MAX_BLANK_LINES + 1) + good)
