"""Write a parsed NHS reference extract into the warehouse's practice dimension tables.

Kept apart from ``streams.core.reference`` (pure parsing) because this is the DuckDB side. An
extract replaces the rows of the same kind and extract date in one transaction, so loading
the same file twice changes nothing and a corrected file replaces its earlier load; other
extracts stay, which is what lets analysts see which extract a figure used.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from streams.core.reference import Extract, Kind, ReferenceError
from streams.warehouse import sqlfiles
from streams.warehouse.store import Warehouse

#: The table each kind of extract is loaded into (sql/migrations/010_practice_reference.sql).
TABLES: dict[Kind, str] = {
    Kind.epraccur: "ods_practices",
    Kind.mapping: "practice_mappings",
    Kind.list_size: "practice_list_sizes",
}


def extract_frame(extract: Extract, source_file: str, loaded_at: datetime) -> pl.DataFrame:
    """The rows of an extract as the table's columns (extract_date first, then the fields)."""
    rows = [row.model_dump() for row in extract.rows]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.select(
        pl.lit(extract.extract_date).alias("extract_date"),
        pl.all(),
        pl.lit(source_file).alias("source_file"),
        pl.lit(loaded_at).dt.replace_time_zone("UTC").alias("loaded_at"),
    )


def load(warehouse: Warehouse, extract: Extract, source_file: str) -> int:
    """Replace this kind + extract date's rows with the extract's; returns rows written."""
    if not extract.rows:
        raise ReferenceError(
            f"no usable {extract.kind.value} rows (all {len(extract.rejects)} rejected): "
            "nothing loaded, the previous extracts stay"
        )
    table = TABLES[extract.kind]
    frame = extract_frame(extract, source_file, datetime.now(UTC))
    staging = Path(tempfile.mkdtemp(prefix="reference-")) / "rows.parquet"
    frame.write_parquet(staging)
    try:
        warehouse.write_transaction(
            lambda conn: _replace(conn, table, staging, extract.extract_date)
        )
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    return frame.height


def _replace(
    conn: duckdb.DuckDBPyConnection, table: str, staging: Path, extract_date: date
) -> None:
    """The statements of one load: drop the extract's old rows, insert the staged ones."""
    source = "'" + str(staging).replace("'", "''") + "'"
    conn.execute(
        f"CREATE OR REPLACE TEMP VIEW reference_rows AS SELECT * FROM read_parquet({source})"
    )
    conn.execute(sqlfiles.read(f"reference/replace_{table}.sql"), {"extract_date": extract_date})
    conn.execute(sqlfiles.read(f"reference/insert_{table}.sql"))
    conn.execute("DROP VIEW reference_rows")


def write_rejects(extract: Extract, path: Path) -> None:
    """The rejected lines of an extract, with line number, field and reason (CSV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "field", "reason", "raw"])
        for reject in extract.rejects:
            writer.writerow([reject.line, reject.field or "", reject.reason, reject.raw])
