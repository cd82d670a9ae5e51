"""The canonical CSV: one canonical v1 event per row, for systems that export spreadsheets.

The header names canonical event fields (any order, a subset of them; docs/formats.md).
``practice`` may be left out when the file is read with ``--practice``; ``event_id`` may be
left empty and is then derived from the row, so re-sending the same file adds nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from streams.core.phone_numbers import team_or_unknown
from streams.ingest.adapters.common import (
    AdapterLine,
    CsvRecord,
    Tally,
    build_event,
    csv_fault,
    csv_records,
    make_event_id,
    not_utf8,
    undecodable,
)

FORMAT = "csv"

#: The canonical v1 event fields, in the documented column order.
COLUMNS: tuple[str, ...] = (
    "practice",
    "call_id",
    "event_id",
    "type",
    "at",
    "caller",
    "direction",
    "option",
    "request_type",
    "target",
    "queue",
    "team",
    "role",
    "outcome",
    "agent",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("call_id", "type", "at")
#: What a column name looks like; any other header cell is not echoed in an error (a row
#: of data read as the header may hold a caller's number).
_NAME = re.compile(r"[a-z_][a-z0-9_ ]{0,39}")


def read_canonical_csv(
    lines: Iterable[str], practice: str | None = None, *, tally: Tally | None = None
) -> Iterator[AdapterLine]:
    """Canonical events (or per-row errors) from the lines of a canonical CSV.

    Raises ``ValueError`` at once when the header itself is unusable (unknown or missing
    columns, no practice column and no ``practice``): no row could be read.
    """
    counts = tally if tally is not None else Counter()
    default = practice.strip().upper() if practice else None
    records = csv_records(lines)
    header = _header(records, default is not None, counts)
    return _rows(records, header, default, counts)


def _header(records: Iterator[CsvRecord], have_practice: bool, tally: Tally) -> list[str]:
    """The header row: the first row that is not blank (blank lines above it are skipped)."""
    for record in records:
        if record.cells is None:
            raise ValueError(
                f"line {record.line}: the header row is not CSV that can be read "
                f"({csv_fault(record, None)})"
            )
        if any(cell.strip() for cell in record.cells):
            break
        tally["skipped: blank row"] += 1
    else:
        raise ValueError("the CSV file is empty: expected a header row")
    header = [c.strip().lstrip("\ufeff").strip().lower() for c in record.cells]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown and len(unknown) == len(header):
        raise ValueError(
            f"line {record.line} is not a header (no cell names a column): the first row must "
            f"name the columns, from: {', '.join(COLUMNS)}"
        )
    if unknown:
        shown = [repr(c) if _NAME.fullmatch(c) else "a cell that is not a name" for c in unknown]
        raise ValueError(f"unknown CSV column(s) {', '.join(shown)}; allowed: {', '.join(COLUMNS)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"the CSV header lacks required column(s): {', '.join(missing)}")
    if "practice" not in header and not have_practice:
        raise ValueError("the CSV has no 'practice' column: give --practice ODS")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ValueError(f"CSV column(s) given twice: {', '.join(duplicated)}")
    return header


def _rows(
    records: Iterator[CsvRecord], header: list[str], default: str | None, tally: Tally
) -> Iterator[AdapterLine]:
    for record in records:
        if record.cells is None:
            yield AdapterLine(record.line, error=csv_fault(record, header))
        elif len(record.lines) > 1:
            # A quote left open swallows the rows after it: say so on its line, then read
            # the lines it took on their own, so those rows are not lost with it.
            last = record.line + len(record.lines) - 1
            yield AdapterLine(
                record.line,
                error=f"a quoted cell runs on to line {last}: close its quote (a cell holds "
                "no line break); the lines after this one are read on their own",
            )
            for offset, text in enumerate(record.lines[1:], start=1):
                for alone in csv_records([text]):
                    if alone.cells is None:
                        yield AdapterLine(record.line + offset, error=csv_fault(alone, header))
                    else:
                        yield from _row(record.line + offset, alone.cells, header, default, tally)
        else:
            yield from _row(record.line, record.cells, header, default, tally)


def _row(
    line: int, row: list[str], header: list[str], default: str | None, tally: Tally
) -> Iterator[AdapterLine]:
    """The event of one row, or why it has none (at most one item)."""
    if not any(cell.strip() for cell in row):
        tally["skipped: blank row"] += 1
        return
    if len(row) != len(header):
        yield AdapterLine(line, error=f"expected {len(header)} cells, got {len(row)}")
        return
    fields: dict[str, Any] = {
        name: cell.strip() for name, cell in zip(header, row, strict=True) if cell.strip()
    }
    bad = next((name for name, cell in fields.items() if undecodable(cell)), None)
    if bad is not None:
        yield AdapterLine(line, error=not_utf8(f"column '{bad}'"))
        return
    if "team" in fields and team_or_unknown(fields["team"]) != fields["team"]:
        fields["team"] = team_or_unknown(fields["team"])
        tally["teams that were phone numbers (stored as unknown)"] += 1
    row_practice = fields.get("practice", "").upper() or None
    if row_practice and default and row_practice != default:
        yield AdapterLine(line, error=f"field 'practice': differs from --practice {default}")
        return
    fields["practice"] = row_practice or default
    if fields["practice"] is None:
        yield AdapterLine(line, error="practice: empty, and no --practice given")
        return
    if "event_id" not in fields and "call_id" in fields and "type" in fields:
        fields["event_id"] = make_event_id(fields["call_id"], ",".join(row), fields["type"])
        tally["event ids derived from the row"] += 1
    yield build_event(line, fields)
