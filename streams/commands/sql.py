"""`callstream sql "QUERY"`: one read-only query against the warehouse, for analysts.

The warehouse is attached read-only, so it answers while the worker writes; only queries
(SELECT, FROM, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are run, so nothing written here
can surprise anyone. Errors are one line a practice manager can act on.
"""

from __future__ import annotations

import sys

import click

from streams.commands.output import FORMATS, print_frame
from streams.settings import get_settings


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
    """Attach read-only, run QUERY, print the result to stdout."""
    import duckdb

    from streams.warehouse.connect import WarehouseError, duckdb_attach_script
    from streams.warehouse.store import Warehouse

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
    try:
        warehouse = Warehouse.open(get_settings(), read_only=True, snapshot=snapshot)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        frame = warehouse.query(query)
        as_of = warehouse.snapshot()
    except duckdb.Error as exc:
        raise click.ClickException(_query_error(exc)) from exc
    finally:
        warehouse.close()
    when = f"{as_of.time:%Y-%m-%d %H:%M:%S} UTC"
    print_frame(frame, fmt, f"{frame.height} rows, data as of snapshot {as_of.id} ({when})")


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


def _query_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "read-only mode" in text:
        return "the warehouse is read-only here: only queries can run"
    return f"query failed: {text}"
