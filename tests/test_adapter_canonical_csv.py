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
        "practice: the row is for B99999 but --practice is A12345",
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
        ("", "A12345", "lacks required column"),
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
