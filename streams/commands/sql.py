"""`callstream sql "QUERY"`: one read-only query against the warehouse, for analysts.

The warehouse is attached read-only, so it answers while the worker writes. Nothing typed
here can write anything, in three layers: only a query runs (DuckDB's own parse says so:
SELECT, FROM, WITH, DESCRIBE, SHOW, SUMMARIZE, VALUES, and EXPLAIN [ANALYZE] of those - not
EXPLAIN ANALYZE COPY, which would write the file); the attach is READ_ONLY; and DuckDB
may touch no file but the warehouse's Parquet files, load no extension and change no
setting (``Warehouse.lock_down``). Errors are one line a practice manager can act on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from streams.commands.output import FORMATS, fetched, print_rows, write_text_rows
from streams.settings import get_settings
from streams.warehouse.frames import NUMERIC, as_text, base_type, unique_names

if TYPE_CHECKING:
    import duckdb


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
@click.option(
    "--with-credentials",
    is_flag=True,
    help="With --attach-script: write the catalog password and object-store secret key into "
    "the script (keep that file private). Without it the script reads them from "
    "CALLSTREAM_CATALOG_PASSWORD and CALLSTREAM_S3_SECRET when the duckdb CLI runs it.",
)
def command(
    query: str | None, fmt: str, snapshot: int | None, attach_script: bool, with_credentials: bool
) -> None:
    """Attach read-only, run QUERY, print the result to stdout.

    Imports duckdb and no polars: csv and json are formatted by DuckDB (``frames.as_text``)
    and streamed out in batches (``output.write_text_rows``), the table is drawn with rich.
    The extensions load without DuckDB's signature check where only this user can change
    them (``connect.is_private``).
    """
    import duckdb

    from streams.warehouse.connect import (
        WarehouseError,
        duckdb_attach_script,
        lock_down,
        open_reader,
        read_snapshot,
    )

    if attach_script:
        if query:
            raise click.UsageError("give either QUERY or --attach-script, not both")
        try:
            sys.stdout.write(duckdb_attach_script(get_settings(), with_credentials))
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    if with_credentials:
        raise click.UsageError("--with-credentials goes with --attach-script")
    if not query:
        raise click.UsageError('give a QUERY, e.g. callstream sql "SELECT count(*) FROM calls"')
    _require_query(query)
    settings = get_settings()
    try:
        conn = open_reader(settings, snapshot)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        lock_down(conn, settings)
        relation = conn.sql(query)
        if fmt == "table":
            columns = _columns(relation)
            rows = relation.fetchall() if relation is not None else []
            as_of = read_snapshot(conn, snapshot)  # for the caption; csv and json have none
        elif relation is not None:
            names = unique_names(relation.columns)
            printable = as_text(relation, fmt)
            write_text_rows(fmt, names, fetched(printable, settings.sql_batch_rows), sys.stdout)
    except (duckdb.InterruptException, RuntimeError) as exc:
        # Ctrl-C while DuckDB ran the query (DuckDB 1.5 raises RuntimeError "Query
        # interrupted"): "Aborted.", exit 130, as every command does.
        if isinstance(exc, RuntimeError) and str(exc) != "Query interrupted":
            raise
        raise click.Abort() from None
    except duckdb.Error as exc:
        raise click.ClickException(_query_error(exc)) from exc
    finally:
        conn.close()
    if fmt == "table":
        when = f"{as_of.time:%Y-%m-%d %H:%M:%S} UTC"
        print_rows(columns, rows, f"{len(rows)} rows, data as of snapshot {as_of.id} ({when})")


def _require_query(query: str) -> None:
    """Exactly one statement, and a query: writes, COPY, ATTACH, SET, PRAGMA calls, CALL and
    EXPLAIN of any of them are refused, on DuckDB's parse of the statement, not its text; so
    is a query calling a function that writes or reads past the warehouse (``unsafe_call``)."""
    import duckdb

    from streams.warehouse.connect import unsafe_call

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise click.ClickException(_query_error(exc)) from exc
    if len(statements) != 1:
        raise click.ClickException(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type
    what = _first_word(query)
    if kind == duckdb.StatementType.EXPLAIN:
        kind = _explained(statements[0].query)
        what = f"EXPLAIN of {kind.name if kind else 'that statement'}"
    if kind != duckdb.StatementType.SELECT:
        raise click.ClickException(
            f"the warehouse is read-only here: only queries can run, not {what}"
        )
    called = unsafe_call(query)
    if called is not None:
        raise click.ClickException(
            f"the warehouse is read-only here: a query may not call {called}() (it writes, "
            "deletes files, reads outside the warehouse or runs other SQL)"
        )


def _first_word(query: str) -> str:
    """The statement's first keyword as typed (``INSTALL``, ``CHECKPOINT``, ``USE``), which
    names it better than DuckDB's statement type (LOAD, CALL, SET for those three)."""
    import duckdb

    tokens = duckdb.tokenize(query)
    if not tokens:
        return "that statement"
    end = tokens[1][0] if len(tokens) > 1 else len(query)
    return query[tokens[0][0] : end].split()[0].upper()


def _explained(text: str) -> duckdb.StatementType | None:
    """The kind of statement an EXPLAIN [ANALYZE] [(options)] statement explains."""
    import duckdb

    starts = [position for position, _ in duckdb.tokenize(text)] + [len(text)]
    words = [text[a:b].strip() for a, b in zip(starts, starts[1:], strict=False)]
    index = 1  # past EXPLAIN
    if index < len(words) and words[index].lower() in ("analyze", "analyse"):
        index += 1
    kind = _statement_kind(text[starts[min(index, len(words))] :])
    if kind is None and index < len(words) and words[index] == "(":
        depth = 0  # not a statement: an option list, as in EXPLAIN (FORMAT json) SELECT 1
        while index < len(words):
            depth += {"(": 1, ")": -1}.get(words[index], 0)
            index += 1
            if depth == 0:
                break
        kind = _statement_kind(text[starts[min(index, len(words))] :])
    return kind


def _statement_kind(text: str) -> duckdb.StatementType | None:
    """The kind of the one statement in ``text``; None when it is not exactly one."""
    import duckdb

    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error:
        return None
    return statements[0].type if len(statements) == 1 else None


def _query_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "read-only mode" in text:
        return "the warehouse is read-only here: only queries can run"
    return f"query failed: {text}"


def _columns(relation: object) -> list[tuple[str, bool]]:
    """Each result column's name and whether it is numeric (nothing for a statement)."""
    if relation is None:
        return []
    return [
        (name, base_type(str(kind)) in NUMERIC)
        for name, kind in zip(relation.columns, relation.types, strict=True)
    ]
