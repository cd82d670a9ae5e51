"""Canonical CSV adapter on tests/fixtures/adapters/events.csv (four good calls, bad rows)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from streams.ingest.adapters.canonical_csv import COLUMNS, read_canonical_csv

FIXTURE = Path(__file__).parent / "fixtures" / "adapters" / "events.csv"


def _read(text: str, practice: str | None = "A12345"):
    tally: Counter[str] = Counter()
    return list(read_canonical_csv(text.splitlines(keepends=True), practice, tally=tally)), tally


def test_fixture_rows_become_events_and_bad_rows_name_their_field() -> None:
    out, tally = _read(FIXTURE.read_text())
    events = [o.event for o in out if o.event]
    assert len(events) == 18
    assert {e.call_id for e in events} == {"c1", "c2", "c3", "c4"}
    assert all(e.practice == "A12345" for e in events)
    errors = {o.line: o.error for o in out if o.error}
    assert errors == {
        21: "at: Input should have timezone info",
        22: "field 'team' is required for a answered event",
        23: errors[23],
        24: "expected 13 cells, got 7",
    }
    assert errors[23].startswith("type: Input should be 'call_started'")
    assert tally["skipped: blank row"] == 1
    assert tally["event ids derived from the row"] == 4


def test_rows_keep_their_meaning() -> None:
    out, _ = _read(FIXTURE.read_text())
    by_id = {o.event.event_id: o.event for o in out if o.event}
    assert by_id["c1-2"].option == "1" and by_id["c1-2"].request_type == "appointments"
    assert by_id["c1-4"].role == "care_navigator"
    assert by_id["c4-5"].outcome == "answered"
    assert by_id["c1-1"].at.utcoffset().total_seconds() == 3600
    c2 = [e for e in by_id.values() if e.call_id == "c2"]
    assert next(e for e in c2 if e.type.value == "call_started").caller == "withheld"
    assert next(e for e in c2 if e.type.value == "ivr_divert").target == "pharmacy"


def test_derived_event_ids_are_stable() -> None:
    first = [o.event.event_id for o in _read(FIXTURE.read_text())[0] if o.event]
    second = [o.event.event_id for o in _read(FIXTURE.read_text())[0] if o.event]
    assert first == second and len(set(first)) == len(first)


def test_practice_column_is_used_and_must_match_the_option() -> None:
    text = (
        "practice,call_id,event_id,type,at,caller\n"
        "A12345,x,x1,call_started,2026-08-03T07:00:00Z,0770\n"
        "B99999,y,y1,call_started,2026-08-03T07:00:00Z,0770\n"
        ",z,z1,call_started,2026-08-03T07:00:00Z,0770\n"
    )
    out, _ = _read(text, practice="a12345")
    assert [o.event.practice if o.event else o.error for o in out] == [
        "A12345",
        "field 'practice': differs from --practice A12345",
        "A12345",
    ]
    no_option, _ = _read(text, practice=None)
    assert [o.event.practice if o.event else o.error for o in no_option] == [
        "A12345",
        "B99999",
        "practice: empty, and no --practice given",
    ]


@pytest.mark.parametrize(
    ("header", "practice", "message"),
    [
        ("call_id,type,at,colour", "A12345", "unknown CSV column(s) 'colour'"),
        ("call_id,at", "A12345", "lacks required column(s): type"),
        ("call_id,type,at", None, "no 'practice' column: give --practice"),
        ("call_id,type,at,at", "A12345", "given twice: at"),
        ("", "A12345", "the CSV file is empty"),
        ("c1,call_started,2026-08-03T07:00:00Z", "A12345", "line 1 is not a header"),
    ],
)
def test_unusable_headers_are_refused_at_once(header, practice, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_canonical_csv([header + "\n"], practice)


def test_empty_file_and_excel_bom_header() -> None:
    with pytest.raises(ValueError, match="empty"):
        read_canonical_csv([], "A12345")
    header = "\ufeff" + ",".join(COLUMNS)
    row = "A12345,k,k1,call_ended,2026-08-03T07:00:00Z" + "," * (len(COLUMNS) - 5)
    out, _ = _read(header + "\n" + row + "\n")
    assert out[0].event is not None and out[0].event.type.value == "call_ended"


def test_a_team_that_is_a_phone_number_is_unknown_and_a_bad_byte_costs_its_row() -> None:
    text = (
        b"call_id,type,at,caller,team\n"
        b"c1,answered,2026-08-03T07:00:00Z,,07700 900123\n"
        b"c1,answered,2026-08-03T07:00:01Z,,201\n"
        b"c2,call_started,2026-08-03T07:00:00Z,0770\xa5900123,\n"
    ).decode("utf-8", "surrogateescape")  # as the format reader decodes each line
    out, tally = _read(text)
    assert [o.event.team for o in out if o.event] == ["unknown", "201"]
    assert tally["teams that were phone numbers (stored as unknown)"] == 1
    assert [(o.line, o.error) for o in out if o.error] == [
        (4, "column 'caller' is not UTF-8 text (bytes in another encoding)")
    ]


CALLER = "07700900555"
HEADER = "call_id,type,at,caller\n"


def _good(call: str) -> str:
    return f"{call},call_started,2026-08-03T07:00:00Z,withheld\n"


def test_blank_lines_above_the_header_are_skipped() -> None:
    out, tally = _read("\n \n" + HEADER + _good("c1"))
    assert [(o.line, o.event.call_id) for o in out] == [(4, "c1")]
    assert tally["skipped: blank row"] == 2


def test_a_header_cell_that_is_not_a_name_is_not_echoed() -> None:
    with pytest.raises(ValueError) as raised:
        read_canonical_csv([f"call_id,type,at,{CALLER[:5]}\udca0{CALLER[5:]}\n"], "A12345")
    assert "a cell that is not a name" in str(raised.value)
    assert not any(CALLER[i : i + 4] in str(raised.value) for i in range(len(CALLER) - 3))


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (f"c2,call_started,2026-08-03T07:00:00Z,{CALLER[:5]}\r{CALLER[5:]}\n",
         "column 'caller' has a carriage return (CR) outside quotes"),
        ("c2,call_started,2026-08-03T07:00:00Z," + "9" * 200_000 + "\n",
         "column 'caller' is longer than 131072 characters"),
    ],
)  # fmt: skip
def test_a_row_the_csv_module_refuses_costs_that_row_alone(bad: str, error: str) -> None:
    lines = [HEADER, _good("c1"), bad, _good("c3")]  # split at LF only, as files are read
    out = list(read_canonical_csv(lines, "A12345"))
    assert [(o.line, o.event.call_id if o.event else o.error) for o in out] == [
        (2, "c1"),
        (3, error),
        (4, "c3"),
    ]


def test_a_quote_left_open_costs_its_row_and_the_rows_it_swallowed_are_read() -> None:
    text = HEADER + f'c1,call_started,2026-08-03T07:00:00Z,"{CALLER}\n' + _good("c2") + _good("c3")
    out, _ = _read(text)
    assert [(o.line, o.event.call_id if o.event else o.error) for o in out] == [
        (2, "a quoted cell runs on to line 4: close its quote (a cell holds no line break); "
         "the lines after this one are read on their own"),
        (3, "c2"),
        (4, "c3"),
    ]  # fmt: skip
    assert not any(CALLER in (o.error or "") for o in out)
