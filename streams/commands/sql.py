"""`callstream sql "QUERY"`: one read-only query against the warehouse, for analysts.

The warehouse is attached read-only, so it answers while the worker writes; only queries
(SELECT, FROM, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are run, so nothing written here
can surprise anyone. Errors are one line a practice manager can act on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("table", "csv", "json")


@click.command(
    help="Run one read-only SQL query against the warehouse, e.g. "
    '`callstream sql "SELECT * FROM cbt_daily LIMIT 10"`. '
    "Tables and views: calls, cbt_daily and the others listed in sql/README.md."
)
@click.argument("query", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table: aligned, for reading; csv and json (an array of objects): for other tools.",
)
@click.option(
    "--snapshot",
    type=click.IntRange(min=0),
    default=None,
    help="Read the warehouse as it was at this DuckLake snapshot id (default: the latest).",
)
@click.option(
    "--attach-script",
    is_flag=True,
    help="Print instead the SQL that attaches the warehouse read-only in the plain `duckdb` "
    "CLI, offline: `callstream sql --attach-script > attach.sql; duckdb -init attach.sql`.",
)
def command(query: str | None, fmt: str, snapshot: int | None, attach_script: bool) -> None:
    """Attach read-only, run QUERY, print the result to stdout.

    The table output needs only duckdb (and rich to draw it): polars is imported for csv and
    json alone, so the common case starts about as fast as the plain duckdb CLI.
    """
    import duckdb

    from streams.warehouse import sqlfiles
    from streams.warehouse.connect import WarehouseError, duckdb_attach_script, open_reader

    if attach_script:
        if query:
            raise click.UsageError("give either QUERY or --attach-script, not both")
        try:
            sys.stdout.write(duckdb_attach_script(get_settings()))
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    if not query:
        raise click.UsageError('give a QUERY, e.g. callstream sql "SELECT count(*) FROM calls"')
    _require_query(query)
    settings = get_settings()
    try:
        conn = open_reader(settings, snapshot)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        if fmt == "table":
            relation = conn.sql(query)
            columns = _columns(relation)
            rows = relation.fetchall() if relation is not None else []
        else:
            from streams.warehouse.store import Warehouse

            frame = Warehouse(conn, settings, True, snapshot).query(query)
        if snapshot is None:
            as_of = conn.execute(sqlfiles.read("warehouse/latest_snapshot.sql")).fetchone()
        else:
            as_of = conn.execute(
                sqlfiles.read("warehouse/snapshot_at.sql"), {"version": snapshot}
            ).fetchone()
    except duckdb.Error as exc:
        raise click.ClickException(_query_error(exc)) from exc
    finally:
        conn.close()
    if fmt == "csv":
        sys.stdout.write(_flat(frame).write_csv())
    elif fmt == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        when = f"{as_of[1]:%Y-%m-%d %H:%M:%S} UTC"
        caption = f"{len(rows)} rows, data as of snapshot {as_of[0]} ({when})"
        _print_table(columns, rows, caption)


def _require_query(query: str) -> None:
    """Exactly one statement, and a query: writes, COPY, ATTACH and the like are refused."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise click.ClickException(_query_error(exc)) from exc
    if len(statements) != 1:
        raise click.ClickException(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        raise click.ClickException(
            f"the warehouse is read-only here: only queries can run, not {kind.name}"
        )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists, structs or durations: such columns are written as text (JSON for
    lists and structs, ``0:03:00`` for durations)."""
    import json

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


def _query_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "read-only mode" in text:
        return "the warehouse is read-only here: only queries can run"
    return f"query failed: {text}"


#: DuckDB types printed right-aligned.
NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip


def _columns(relation: object) -> list[tuple[str, bool]]:
    """Each result column's name and whether it is numeric (nothing for a statement)."""
    if relation is None:
        return []
    return [
        (name, str(kind).split("(")[0] in NUMERIC)
        for name, kind in zip(relation.columns, relation.types, strict=True)
    ]


def _print_table(columns: list[tuple[str, bool]], rows: list[tuple], caption: str) -> None:
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
