"""How commands print a result: an aligned table for reading, CSV or JSON for tools.

``callstream sql`` and ``callstream staffing`` print alike, so a script that reads one reads
the other. CSV and JSON are written row by row from Python values (DuckDB's rows, or a
frame's), so ``callstream sql`` imports no polars (a fifth of a second of its start-up), a
result of any size streams out in bounded memory, and every DuckDB type prints (HUGEINT
beyond 64 bits, BLOB).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import duckdb
    import polars as pl

FORMATS = ("table", "csv", "json")


def print_frame(frame: pl.DataFrame, fmt: str, caption: str) -> None:
    """Write ``frame`` to stdout as ``fmt``; the table carries ``caption`` under it."""
    if fmt == "table":
        _print_table(frame, caption)
    else:
        write_rows(fmt, frame.columns, [frame.iter_rows()], sys.stdout)


def write_rows(
    fmt: str, names: Sequence[str], batches: Iterable[Iterable[Sequence[object]]], out: TextIO
) -> None:
    """Rows (in batches, as DuckDB's ``fetchmany`` gives them) as ``csv`` or ``json`` (an
    array of objects). ``names`` must be unique (``frames.unique_names``)."""
    rows = (row for batch in batches for row in batch)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_text(value) for value in row])
        return
    out.write("[")
    for n, row in enumerate(rows):
        record = {name: json_value(value) for name, value in zip(names, row, strict=True)}
        out.write(("," if n else "") + json.dumps(record, default=str, allow_nan=False))
    out.write("]\n")


def csv_text(value: object) -> str:
    """One CSV cell: empty for null, ISO 8601 for dates and times, ``true``/``false``, JSON
    for lists and structs (CSV has none), ``0:03:00`` for a duration, hex for bytes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | dict | tuple):
        return json.dumps(json_value(value), default=str)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def json_value(value: object) -> object:
    """A value JSON can hold: numbers stay numbers (a DECIMAL too; NaN and infinity, which
    JSON has not, become null), dates and times ISO 8601, durations and bytes as in CSV."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta | bytes | bytearray | memoryview):
        return csv_text(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return value


def fetched(
    relation: duckdb.DuckDBPyRelation, batch_rows: int
) -> Iterator[list[tuple[object, ...]]]:
    """A DuckDB result in batches of ``batch_rows``, never the whole of it at once."""
    while batch := relation.fetchmany(batch_rows):
        yield batch


def _print_table(frame: pl.DataFrame, caption: str) -> None:
    columns = [(name, dtype.is_numeric()) for name, dtype in frame.schema.items()]
    print_rows(columns, frame.iter_rows(), caption)


def print_rows(
    columns: Sequence[tuple[str, bool]], rows: Iterable[Sequence[object]], caption: str
) -> None:
    """An aligned table of ``rows`` (numeric columns, the flag beside each name, to the
    right) with ``caption`` under it; needs no polars, so a table query starts quickly."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(caption=caption, show_lines=False)
    for name, numeric in columns:
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(
            *("[dim]null[/dim]" if value is None else escape(str(value)) for value in row)
        )
    Console().print(table)
