"""The canonical CSV: one canonical v1 event per row, for systems that export spreadsheets.

The header names canonical event fields (any order, a subset of them; docs/formats.md).
``practice`` may be left out when the file is read with ``--practice``; ``event_id`` may be
left empty and is then derived from the row, so re-sending the same file adds nothing.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from streams.core.phone_numbers import team_or_unknown
from streams.ingest.adapters.common import (
    AdapterLine,
    Tally,
    build_event,
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


def read_canonical_csv(
    lines: Iterable[str], practice: str | None = None, *, tally: Tally | None = None
) -> Iterator[AdapterLine]:
    """Canonical events (or per-row errors) from the lines of a canonical CSV.

    Raises ``ValueError`` at once when the header itself is unusable (unknown or missing
    columns, no practice column and no ``practice``): no row could be read.
    """
    counts = tally if tally is not None else Counter()
    default = practice.strip().upper() if practice else None
    reader = csv.reader(iter(lines))
    header = _header(reader, default is not None)
    return _rows(reader, header, default, counts)


def _header(reader: Any, have_practice: bool) -> list[str]:
    try:
        raw = next(reader)
    except StopIteration:
        raise ValueError("the CSV file is empty: expected a header row") from None
    header = [c.strip().lstrip("\ufeff").strip().lower() for c in raw]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ValueError(
            f"unknown CSV column(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(COLUMNS)}"
        )
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
    reader: Any, header: list[str], default: str | None, tally: Tally
) -> Iterator[AdapterLine]:
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            tally["skipped: blank row"] += 1
            continue
        if len(row) != len(header):
            yield AdapterLine(line, error=f"expected {len(header)} cells, got {len(row)}")
            continue
        fields: dict[str, Any] = {
            name: cell.strip() for name, cell in zip(header, row, strict=True) if cell.strip()
        }
        bad = next((name for name, cell in fields.items() if undecodable(cell)), None)
        if bad is not None:
            yield AdapterLine(line, error=not_utf8(f"column '{bad}'"))
            continue
        if "team" in fields and team_or_unknown(fields["team"]) != fields["team"]:
            fields["team"] = team_or_unknown(fields["team"])
            tally["teams that were phone numbers (stored as unknown)"] += 1
        row_practice = fields.get("practice", "").upper() or None
        if row_practice and default and row_practice != default:
            yield AdapterLine(
                line, error=f"practice: the row is for {row_practice} but --practice is {default}"
            )
            continue
        fields["practice"] = row_practice or default
        if fields["practice"] is None:
            yield AdapterLine(line, error="practice: empty, and no --practice given")
            continue
        if "event_id" not in fields and "call_id" in fields and "type" in fields:
            fields["event_id"] = make_event_id(fields["call_id"], ",".join(row), fields["type"])
            tally["event ids derived from the row"] += 1
        yield build_event(line, fields)
