"""The NHS CBT publication files for one month, straight from the warehouse.

Three CSVs in NHS England's publication layout plus a manifest:

- ``cbt_YYYY-MM_day_time.csv``: CBT001-CBT006 by day and time band. Every time band with at
  least one inbound call has all six indicators, 0 included, so "no missed calls" is stated,
  not implied; bands with no inbound call have no rows.
- ``cbt_YYYY-MM_durations.csv``: CBT007 by talk duration; only buckets with calls.
- ``cbt_YYYY-MM_answered.csv``: CBT003 by time band, wait bucket and core category; only
  combinations with calls.
- ``cbt_YYYY-MM_manifest.json``: the DuckLake snapshot read (``--snapshot`` reproduces it byte
  for byte), row counts, SHA-256 of each file, the reference extracts and rules versions used.

``Date`` is ISO 8601 (``2026-08-03``): no NHS CBT publication file was available to copy a
date form from, and ISO sorts and parses everywhere. Rows are sorted by date, practice,
indicator and then the NHS order of bands and buckets, so a file is reproducible.

Before anything is written the figures are reconciled: CBT001 = CBT002 + CBT003 + CBT004 +
CBT005 per practice and day, CBT006 <= CBT005, and the durations and answered files each
total CBT003. A failure writes nothing and raises ``ReconciliationError`` naming the
practice, day and figures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from models.classified import DURATION_BUCKETS, TIME_BANDS, WAIT_BUCKETS
from streams.warehouse import sqlfiles

if TYPE_CHECKING:
    from streams.warehouse.store import Warehouse

HIERARCHY = [
    "Date",
    "REGION_CODE",
    "ICB_CODE",
    "SUB_ICB_LOCATION_CODE",
    "PCN_CODE",
    "PRACTICE_CODE",
]
DAY_TIME_HEADER = [*HIERARCHY, "Indicator", "Time_Category", "Value"]
DURATIONS_HEADER = [*HIERARCHY, "Indicator", "Duration", "Value"]
ANSWERED_HEADER = [
    *HIERARCHY,
    "Indicator",
    "Time_Category",
    "Wait_Time",
    "Core_Category",
    "Value",
]
CORE_CATEGORIES = ("Core_8_10", "Core_10_1830", "Non-Core")
#: The labels each category column may hold, in NHS order (the rows' sort order).
NHS_LABELS: dict[str, tuple[str, ...]] = {
    "Time_Category": TIME_BANDS,
    "Duration": DURATION_BUCKETS,
    "Wait_Time": WAIT_BUCKETS,
    "Core_Category": CORE_CATEGORIES,
}
INDICATORS = ("CBT001", "CBT002", "CBT003", "CBT004", "CBT005", "CBT006", "CBT007")
MAX_LISTED = 5

#: SQL column -> publication header (sql/export/*.sql).
_RENAME = {
    "local_date": "Date",
    "region_code": "REGION_CODE",
    "icb_code": "ICB_CODE",
    "sub_icb_code": "SUB_ICB_LOCATION_CODE",
    "pcn_code": "PCN_CODE",
    "practice": "PRACTICE_CODE",
    "indicator": "Indicator",
    "time_band": "Time_Category",
    "duration": "Duration",
    "wait_time": "Wait_Time",
    "core_category": "Core_Category",
    "value": "Value",
}


class ExportError(Exception):
    """The export cannot be made; the message says why and what to do."""


class ReconciliationError(ExportError):
    """The month's figures do not add up; nothing was written."""


@dataclass(frozen=True)
class CbtTables:
    """The three publication tables of a month, with the publication headers, sorted."""

    day_time: pl.DataFrame
    durations: pl.DataFrame
    answered: pl.DataFrame


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    files: list[Path]
    manifest: Path
    snapshot_id: int
    inbound_calls: int


def month_range(month: str) -> tuple[date, date]:
    """``2026-08`` -> (2026-08-01, 2026-09-01): the month's first day and the next month's."""
    try:
        start = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ExportError(f"--month '{month}' is not a month like 2026-08") from None
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def file_names(month: str) -> dict[str, str]:
    """The output file names of a month's export."""
    return {
        "day_time": f"cbt_{month}_day_time.csv",
        "durations": f"cbt_{month}_durations.csv",
        "answered": f"cbt_{month}_answered.csv",
        "manifest": f"cbt_{month}_manifest.json",
    }


def publication_tables(
    day_time: pl.DataFrame, durations: pl.DataFrame, answered: pl.DataFrame
) -> CbtTables:
    """Rename the SQL results to the publication headers, format dates, sort in NHS order."""
    return CbtTables(
        day_time=_publish(day_time, DAY_TIME_HEADER),
        durations=_publish(durations, DURATIONS_HEADER),
        answered=_publish(answered, ANSWERED_HEADER),
    )


def reconcile(tables: CbtTables, open_answered: int = 0) -> None:
    """Check the month adds up; raise ReconciliationError listing what does not."""
    problems: list[str] = []
    per_day = (
        tables.day_time.group_by("Date", "PRACTICE_CODE", "Indicator")
        .agg(pl.col("Value").sum())
        .pivot(on="Indicator", index=["Date", "PRACTICE_CODE"], values="Value")
        .fill_null(0)
    )
    for code in INDICATORS[:6]:
        if code not in per_day.columns:
            per_day = per_day.with_columns(pl.lit(0).alias(code))
    outcomes = pl.col("CBT002") + pl.col("CBT003") + pl.col("CBT004") + pl.col("CBT005")
    unbalanced = per_day.filter(pl.col("CBT001") != outcomes).sort("Date", "PRACTICE_CODE")
    for row in unbalanced.head(MAX_LISTED).iter_rows(named=True):
        problems.append(
            f"{row['PRACTICE_CODE']} {row['Date']}: CBT001 {row['CBT001']} != CBT002+CBT003+"
            f"CBT004+CBT005 {row['CBT002']}+{row['CBT003']}+{row['CBT004']}+{row['CBT005']}"
        )
    over = per_day.filter(pl.col("CBT006") > pl.col("CBT005")).sort("Date", "PRACTICE_CODE")
    for row in over.head(MAX_LISTED).iter_rows(named=True):
        problems.append(
            f"{row['PRACTICE_CODE']} {row['Date']}: CBT006 {row['CBT006']} > CBT005 {row['CBT005']}"
        )
    cbt003 = int(per_day["CBT003"].sum()) if per_day.height else 0
    cbt007 = int(tables.durations["Value"].sum())
    answered = int(tables.answered["Value"].sum())
    if cbt007 != cbt003:
        why = f" ({open_answered} answered calls have not ended)" if open_answered else ""
        problems.append(f"CBT007 total {cbt007} != CBT003 total {cbt003}{why}")
    if answered != cbt003:
        problems.append(f"answered file total {answered} != CBT003 total {cbt003}")
    if problems:
        listed = min(len(unbalanced), MAX_LISTED) + min(len(over), MAX_LISTED)
        more = len(unbalanced) + len(over) - listed
        tail = f"; and {more} more practice-days" if more > 0 else ""
        raise ReconciliationError(
            "the month does not reconcile, nothing written: " + "; ".join(problems) + tail
        )


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """A publication table as CSV: header row, comma-separated, LF line ends, UTF-8."""
    return frame.write_csv(line_terminator="\n").encode("utf-8")


def read_tables(warehouse: Warehouse, month: str) -> tuple[CbtTables, int, dict[str, Any]]:
    """Query a month from an open Warehouse: the tables, the number of answered calls not
    yet ended, and the facts the manifest records."""
    start, end = month_range(month)
    params = {"month_start": start, "month_end": end}

    def run(name: str) -> pl.DataFrame:
        return warehouse.query(sqlfiles.read(f"export/{name}.sql"), params)

    tables = publication_tables(run("cbt_day_time"), run("cbt_durations"), run("cbt_answered"))
    open_answered = run("cbt_open_answered_calls")
    facts = run("cbt_month_facts").to_dicts()[0]
    extracts = warehouse.query(sqlfiles.read("export/reference_extracts_in_use.sql")).to_dicts()
    facts["reference_extracts"] = [
        {"kind": e["kind"], "extract_date": e["extract_date"].isoformat(), "files": e["files"]}
        for e in extracts
    ]
    facts["open_answered_calls"] = [
        f"{r['practice']}:{r['call_id']}" for r in open_answered.head(MAX_LISTED).to_dicts()
    ]
    return tables, open_answered.height, facts


def export_month(warehouse: Warehouse, month: str, out_dir: Path) -> ExportResult:
    """Read, reconcile and write one month's files from an open Warehouse."""
    tables, open_answered, facts = read_tables(warehouse, month)
    try:
        reconcile(tables, open_answered)
    except ReconciliationError as exc:
        if facts["open_answered_calls"]:
            listed = ", ".join(facts["open_answered_calls"])
            raise ReconciliationError(f"{exc} (e.g. {listed})") from None
        raise
    snapshot = warehouse.snapshot()
    names = file_names(month)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    entries: list[dict[str, Any]] = []
    for key, frame in (
        ("day_time", tables.day_time),
        ("durations", tables.durations),
        ("answered", tables.answered),
    ):
        data = csv_bytes(frame)
        path = out_dir / names[key]
        path.write_bytes(data)
        files.append(path)
        entries.append(
            {
                "name": names[key],
                "rows": frame.height,
                "value_total": int(frame["Value"].sum()),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest = {
        "month": month,
        "snapshot_id": snapshot.id,
        "snapshot_time": snapshot.time.isoformat(),
        "reproduce": f"callstream export cbt --month {month} --out DIR --snapshot {snapshot.id}",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "callstream_version": _version(),
        "files": entries,
        "inbound_calls": facts["inbound_calls"],
        "incomplete_calls": facts["incomplete_calls"],
        "practices": facts["practices"],
        "unmapped_practices": facts["unmapped_practices"],
        "rules_versions": facts["rules_versions"] or [],
        "reference_extracts": facts["reference_extracts"],
        "reconciliation": "CBT001 = CBT002+CBT003+CBT004+CBT005 per practice and day; "
        "CBT006 <= CBT005; CBT007 total = answered total = CBT003 total: passed",
    }
    manifest_path = out_dir / names["manifest"]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportResult(
        files=files,
        manifest=manifest_path,
        snapshot_id=snapshot.id,
        inbound_calls=facts["inbound_calls"],
    )


def _publish(frame: pl.DataFrame, header: list[str]) -> pl.DataFrame:
    renamed = frame.rename({k: v for k, v in _RENAME.items() if k in frame.columns})
    if renamed.height == 0:
        return pl.DataFrame(schema={name: pl.String for name in header[:-1]} | {"Value": pl.Int64})
    published = renamed.with_columns(
        pl.col("Date").cast(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.col("Value").cast(pl.Int64),
    ).select(header)
    for column, labels in NHS_LABELS.items():
        if column in header:
            unknown = sorted(set(published[column].unique().to_list()) - set(labels))
            if unknown:
                raise ExportError(
                    f"{column} has values outside NHS England's labels: {unknown}; "
                    "reclassify those calls (`callstream classify`) before exporting"
                )
    return published.sort(_sort_keys(header))


def _sort_keys(header: list[str]) -> list[pl.Expr]:
    """Date, practice, indicator, then bands and buckets in NHS order (not alphabetical)."""
    keys = [pl.col("Date"), pl.col("PRACTICE_CODE"), pl.col("Indicator")]
    for column, labels in NHS_LABELS.items():
        if column in header:
            rank = {label: i for i, label in enumerate(labels)}
            keys.append(pl.col(column).replace_strict(rank, return_dtype=pl.Int32))
    return keys


def _version() -> str:
    try:
        return version("callstream")
    except PackageNotFoundError:
        return "unknown"
