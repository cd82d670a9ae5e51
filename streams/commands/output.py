"""How commands print a result: an aligned table for reading, CSV or JSON for tools.

``callstream sql`` and ``callstream staffing`` print alike, so a script that reads one reads
the other. ``callstream sql`` writes lines DuckDB formatted (``frames.as_text``), a batch at
a time, and imports no polars (a fifth of a second of its start-up); ``staffing`` prints a
polars frame it already has.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import duckdb
    import polars as pl

FORMATS = ("table", "csv", "json")


def print_frame(frame: pl.DataFrame, fmt: str, caption: str) -> None:
    """Write ``frame`` to stdout as ``fmt``; the table carries ``caption`` under it."""
    if fmt == "csv":
        sys.stdout.write(_flat(frame).write_csv())
    elif fmt == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        _print_table(frame, caption)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists, structs or durations: such columns are written as text (JSON for
    lists and structs, ``0:03:00`` for durations)."""
    import polars as pl

    def text(value: object) -> str | None:
        if value is None:
            return None
        return json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)

    awkward = [
        name
        for name, dtype in frame.schema.items()
        if dtype.is_nested() or isinstance(dtype, pl.Duration | pl.Object | pl.Binary)
    ]
    return frame.with_columns(
        pl.Series(name, [text(value) for value in frame[name].to_list()], dtype=pl.String)
        for name in awkward
    )


def write_text_rows(
    fmt: str, names: Sequence[str], batches: Iterable[Sequence[Sequence[str]]], out: TextIO
) -> None:
    """Lines DuckDB already formatted (``frames.as_text``: one CSV line or one JSON object per
    row) written a batch at a time: under a CSV header of ``names``, or as one JSON array."""
    if fmt == "csv":
        csv.writer(out, lineterminator="\n").writerow(names)
        for batch in batches:
            out.write("".join(row[0] + "\n" for row in batch))
        return
    out.write("[")
    first = True
    for batch in batches:
        out.write(("" if first else ",") + ",".join(_strict_json(row[0]) for row in batch))
        first = False
    out.write("]\n")


def _strict_json(line: str) -> str:
    """DuckDB's JSON with NaN and infinity (which JSON has not, and strict readers refuse)
    as null, at any depth; a line without those words is left as it is."""
    if "NaN" not in line and "Infinity" not in line:
        return line
    loaded = json.loads(line, parse_constant=lambda _: None)
    return json.dumps(loaded, separators=(",", ":"), ensure_ascii=False)


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
    right) with ``caption`` under it; needs no polars, so a table query starts quickly.
    The caption is a line of its own: as the table's caption it wrapped to the table's
    width, a word a line under a narrow one."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False)
    for name, numeric in columns:
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(
            *("[dim]null[/dim]" if value is None else escape(str(value)) for value in row)
        )
    console = Console()
    console.print(table)
    console.print(caption, style="table.caption", markup=False, highlight=False)
