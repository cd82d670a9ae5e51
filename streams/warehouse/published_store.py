"""NHS England's published CBT files into the warehouse (the DuckDB side of `nhs load`).

The parsing is ``streams.core.cbt_publication`` (pure). Here the parsed batches are staged as
Parquet and checked (no row twice), then each file given to the command replaces, in one
transaction, the rows of the loads it supersedes (same month and file kind: every region
for a zip, else the regions the CSV has rows for, by REGION_CODE), so loading a file twice
changes nothing and a CSV never removes a region it does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from streams.core import cbt_publication as nhs
from streams.warehouse import sqlfiles
from streams.warehouse.connect import quote
from streams.warehouse.store import Warehouse

#: Column types of the parsed rows (ROW_COLUMNS); staging adds the CSV's member and source.
ROW_SCHEMA: dict[str, pl.DataType] = {
    "local_date": pl.Date(),
    **{name: pl.String() for name in nhs.ROW_COLUMNS[1:11]},
    "value": pl.Int64(),
    "source_line": pl.Int32(),
}


@dataclass
class LoadUnit:
    """One file given to `nhs load`: a zip (all its CSVs) or one CSV, parsed and staged."""

    source: str
    whole: bool  # replaces every region of its month and kind (a zip)
    parts: list[nhs.ParsedCsv]
    staged: list[Path]

    @property
    def regions(self) -> list[str]:
        """The REGION_CODE values of its rows: what a CSV (not a zip) replaces."""
        return sorted(set().union(*(part.regions for part in self.parts)))

    @property
    def kind(self) -> nhs.FileKind:
        return self.parts[0].kind

    @property
    def month(self) -> date:
        return next(part.month for part in self.parts if part.month is not None)


def stage(parsed: nhs.ParsedCsv, batches: Iterable[dict[str, list]], directory: Path) -> list[Path]:
    """Write a CSV's parsed batches as Parquet files in ``directory`` (one per batch)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for batch in batches:
        frame = pl.DataFrame(batch, schema=ROW_SCHEMA)
        frame = frame.with_columns(
            pl.lit(parsed.member).alias("member"), pl.lit(parsed.source).alias("source_file")
        )
        path = directory / f"part-{len(list(directory.iterdir())):06d}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    return paths


def unit(source: str, whole: bool, parts: list[nhs.ParsedCsv], staged: list[Path]) -> LoadUnit:
    """A load unit, once its CSVs are read: one file kind and one month, or a clear error."""
    if not parts:
        raise nhs.PublishedFileError(f"{source}: holds no CSV")
    kinds = {part.kind for part in parts}
    if len(kinds) > 1:
        raise nhs.PublishedFileError(
            f"{source}: mixes files of kinds {', '.join(sorted(kinds))}: one kind per zip"
        )
    months = {part.month for part in parts if part.month is not None}
    if not months:
        raise nhs.PublishedFileError(f"{source}: has no rows (only headers)")
    if len(months) > 1:
        listed = ", ".join(nhs.month_title(m) for m in sorted(months))
        raise nhs.PublishedFileError(f"{source}: mixes months ({listed}): one month per zip")
    seen: dict[str, str] = {}
    for part in parts:
        if part.member != nhs.ALL_REGIONS and part.member in seen:
            raise nhs.PublishedFileError(
                f"{source}: holds two CSVs of {part.member} ({seen[part.member]} and "
                f"{part.source}): one per region"
            )
        seen[part.member] = part.source
    _refuse_repeated_rows(staged)
    return LoadUnit(source, whole, parts, staged)


def _refuse_repeated_rows(staged: list[Path]) -> None:
    """A file holds each figure once: the same practice, day, indicator and category on two
    rows would be counted twice, so it is refused, naming both lines."""
    if not staged:
        return
    with duckdb.connect() as conn:
        conn.execute(f"CREATE VIEW published_rows AS {_staged_rows(staged)}")
        twice = conn.execute(sqlfiles.read("published/repeated_rows.sql")).fetchone()
    if twice is not None:
        first, second, practice, day, indicator = twice
        raise nhs.PublishedFileError(
            f"{second}: the same row as {first} ({practice}, {day:%Y-%m-%d}, {indicator}): "
            "a file holds each figure once"
        )


def _staged_rows(staged: list[Path]) -> str:
    files = "[" + ", ".join(quote(str(path)) for path in staged) + "]"
    return f"SELECT * FROM read_parquet({files}, union_by_name = true)"


def prepare_labels(conn: duckdb.DuckDBPyConnection) -> None:
    """Temp table publication_labels: the publication's labels, for the export's joins and
    for nhs_cbt_labels."""
    conn.execute(sqlfiles.read("published/publication_labels.sql"), nhs.label_columns())


def load(warehouse: Warehouse, loaded: LoadUnit) -> int:
    """Replace what ``loaded`` supersedes with its rows, in one transaction; returns rows."""
    params = {
        "month": loaded.month,
        "kind": loaded.kind.value,
        "regions": loaded.regions,
        "whole": loaded.whole,
    }
    warehouse.write_transaction(lambda conn: _replace(conn, loaded.staged, params))
    return sum(part.rows for part in loaded.parts)


def _replace(conn: duckdb.DuckDBPyConnection, staged: list[Path], params: dict) -> None:
    """The statements of one load: drop what it supersedes, insert its rows, relabel, and
    recompute the month's published figures and medians."""
    conn.execute(f"CREATE OR REPLACE TEMP VIEW published_rows AS {_staged_rows(staged)}")
    conn.execute(sqlfiles.read("published/delete_published.sql"), params)
    conn.execute(
        sqlfiles.read("published/insert_published.sql"),
        {"month": params["month"], "kind": params["kind"]},
    )
    prepare_labels(conn)
    conn.execute(sqlfiles.read("published/replace_labels.sql"))
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE loaded_month AS SELECT $month AS month",
        {"month": params["month"]},
    )
    conn.execute(sqlfiles.read("published/refresh_published_month.sql"))
    conn.execute("DROP VIEW published_rows")
    conn.execute("DROP TABLE loaded_month")
