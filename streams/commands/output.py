"""How commands print a result frame: an aligned table for reading, CSV or JSON for tools.

``callstream sql`` and ``callstream staffing`` print alike, so a script that reads one reads
the other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
