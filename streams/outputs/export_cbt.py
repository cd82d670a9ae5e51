"""NHS England's monthly CBT publication files for one month, straight from the warehouse.

Three zips in NHS England's packaging (``Cloud Based Telephony By Day and Time - August
2026.zip``, ``... By Durations ...``, ``... Calls Answered Metric ...``), each holding one CSV
per NHS region code plus ``Unmapped``, in the layout of ``streams/core/cbt_publication.py``
(its ``CHOICES`` are the details not known for certain). ``flat=True`` writes the three
files as plain CSVs instead (every region in one file). A manifest names the DuckLake
snapshot read, so ``--snapshot`` reproduces the files byte for byte.

The rows are written by DuckDB itself (``COPY ... TO``) from the writer's materialised
facts (``cbt_daily``, ``cbt_bucket_facts``), never from the call table and never through
Python rows, so a national month streams to disk in bounded memory. A zip's rows are counted
once, into a Parquet file beside it ordered by region, and each region's CSV is copied from
there: counting the month once per region made a zip cost about eight flat files.

Before anything is written the month is reconciled from the same facts: CBT001 = CBT002 +
CBT003 + CBT004 + CBT005 per practice and day, CBT006 <= CBT005, and every timed
indicator's buckets total the indicator. A failure writes nothing and raises
``ReconciliationError`` naming the practice, day and figures.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from streams.core import cbt_publication as nhs
from streams.core.nhs_time import to_london
from streams.warehouse import sqlfiles
from streams.warehouse.connect import quote
from streams.warehouse.published_store import prepare_labels

if TYPE_CHECKING:
    import duckdb

    from streams.warehouse.store import Warehouse

MAX_LISTED = 5
ZIP_CHUNK = 1 << 20
#: The order of every published CSV's rows.
FILE_ORDER = 'sort_date, "PRACTICE_CODE", "Indicator", sort_1, sort_2'
#: Deflate level of the zips: the fastest (a national month is most of a gigabyte of CSV).
ZIP_LEVEL = 1


class ExportError(Exception):
    """The export cannot be made; the message says why and what to do."""


class ReconciliationError(ExportError):
    """The month's figures do not add up; nothing was written."""


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
        # strptime also takes 2026-8 and full-width digits, which would name the files and
        # the manifest so; December 9999 has no next month to end it
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", month) or month == "9999-12":
            raise ValueError(month)
        start = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ExportError(f"--month '{month}' is not a month like 2026-08") from None
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def require_begun(month: str, today: date) -> None:
    """A month after ``today``'s (UK) has no calls yet: its files would be a publication of
    nothing that looks like NHS England's."""
    start, _ = month_range(month)
    if start > today.replace(day=1):
        raise ExportError(
            f"--month {month} has not begun: the latest month to export is "
            f"{today:%Y-%m} (this month so far)"
        )


def flat_name(kind: nhs.FileKind, month: str) -> str:
    """The plain CSV of a file kind (``--flat``): ``cbt_2026-08_day_time.csv``."""
    return f"cbt_{month}_{kind.value}.csv"


def manifest_name(month: str) -> str:
    return f"cbt_{month}_manifest.json"


def export_params(month: str) -> dict[str, Any]:
    """The parameters of the sql/export files: the month and the publication's choices."""
    start, end = month_range(month)
    return {
        "month_start": start,
        "month_end": end,
        "date_format": nhs.DATE_FORMAT,
        "value_format": nhs.VALUE_FORMAT,
        "zero_rows": nhs.WRITE_ZERO_ROWS,
        "unmapped": nhs.UNMAPPED,
    }


def reconcile(
    check: pl.DataFrame,
    unknown: pl.DataFrame,
    unended: Callable[[], pl.DataFrame] | None = None,
    allow_unended: bool = False,
) -> dict[str, int]:
    """Check the month adds up (``sql/export/cbt_month_check.sql`` rows, labels outside the
    publication's); raise ReconciliationError listing what does not. ``unended``: reads the
    calls not yet ended (``sql/export/cbt_unended_calls.sql``), why CBT007 or CBT004 by wait
    may fall short; called only when they do. Answered calls whose answer time was not
    recorded have neither a wait nor a talk bucket: the answered and durations files leave
    them out, by design. With ``allow_unended`` a shortfall of exactly the calls not ended
    passes (the caller chose to export without their talk or wait); returns how many of
    each outcome were let through so."""
    problems: list[str] = []
    for row in unknown.iter_rows(named=True):
        problems.append(
            f"{row['category']} {row['label']!r} of {row['indicator']} ({row['calls']} calls) "
            "is not one of NHS England's labels; reclassify those calls (`callstream classify`)"
        )
    outcomes = pl.col("cbt002") + pl.col("cbt003") + pl.col("cbt004") + pl.col("cbt005")
    unbalanced = check.filter(pl.col("cbt001") != outcomes)
    for row in unbalanced.head(MAX_LISTED).iter_rows(named=True):
        problems.append(
            f"{row['practice']} {row['local_date']}: CBT001 {row['cbt001']} != CBT002+CBT003+"
            f"CBT004+CBT005 {row['cbt002']}+{row['cbt003']}+{row['cbt004']}+{row['cbt005']}"
        )
    over = check.filter(pl.col("cbt006") > pl.col("cbt005"))
    for row in over.head(MAX_LISTED).iter_rows(named=True):
        problems.append(
            f"{row['practice']} {row['local_date']}: CBT006 {row['cbt006']} > "
            f"CBT005 {row['cbt005']}"
        )
    totals = {name: int(check[name].sum()) for name in check.columns if name.startswith("cbt")}
    answered = totals.get("cbt003", 0)
    untimed = totals.get("cbt003_time_unknown", 0)
    less = f" less {untimed} answered at a time not recorded" if untimed else ""
    allowed = {"answered": 0, "missed": 0}
    short = {
        "answered": answered - untimed - totals.get("cbt007_by_duration", 0),
        "missed": totals.get("cbt004", 0) - totals.get("cbt004_by_wait", 0),
    }
    not_allowed = ""
    if allow_unended and unended is not None and any(short.values()):
        calls = Counter(unended()["outcome"].to_list())
        if all(short[kind] == calls[kind] for kind in short):
            allowed = {kind: calls[kind] for kind in short}
            totals["cbt007_by_duration"] = totals.get("cbt007_by_duration", 0) + short["answered"]
            totals["cbt004_by_wait"] = totals.get("cbt004_by_wait", 0) + short["missed"]
        else:
            not_allowed = (
                f". --allow-unended does not cover it: the shortfall ({short['answered']} "
                f"answered without talk time, {short['missed']} missed without wait) is not "
                f"the calls not ended ({calls['answered']} answered, {calls['missed']} missed)"
            )
    unended_problem = False
    if totals.get("cbt007_by_duration", 0) != answered - untimed:
        unended_problem = True
        problems.append(
            f"CBT007 total {totals.get('cbt007_by_duration', 0)} != CBT003 total {answered}{less}"
        )
    if totals.get("cbt003_by_wait", 0) != answered - untimed:
        problems.append(
            f"answered file total {totals.get('cbt003_by_wait', 0)} != CBT003 total "
            f"{answered}{less}"
        )
    if totals.get("cbt004_by_wait", 0) != totals.get("cbt004", 0):
        unended_problem = True
        missing = totals.get("cbt004", 0) - totals.get("cbt004_by_wait", 0)
        problems.append(
            f"CBT004 by wait total {totals.get('cbt004_by_wait', 0)} != CBT004 total "
            f"{totals.get('cbt004', 0)} ({missing} missed calls have no wait: no end yet)"
        )
    if problems:
        listed = min(len(unbalanced), MAX_LISTED) + min(len(over), MAX_LISTED)
        more = len(unbalanced) + len(over) - listed
        tail = f"; and {more} more practice-days" if more > 0 else ""
        hint = ""
        if unended_problem and not_allowed:
            hint = not_allowed
        elif unended_problem:
            calls = unended() if unended is not None else None
            where = unended_summary(calls) if calls is not None and len(calls) else ""
            hint = (
                f"; {where}. Calls with no end never had their call_ended reach callstream: "
                "send the phone system's events for those days again, whole (`callstream "
                "push`, or the HTTP API; calls already right stay unchanged) and export again, "
                "or export without their talk and wait with --allow-unended"
            )
        raise ReconciliationError(
            "the month does not reconcile, nothing written: " + "; ".join(problems) + tail + hint
        )
    return allowed


def unended_summary(unended: pl.DataFrame) -> str:
    """Which practices and days hold the calls that have not ended, most calls first, so
    each practice manager involved finds their own (``sql/export/cbt_unended_calls.sql``)."""
    by_outcome = Counter(unended["outcome"].to_list())
    kinds = ", ".join(f"{n} {outcome}" for outcome, n in sorted(by_outcome.items()))
    groups = sorted(
        unended.group_by("practice", maintain_order=True), key=lambda g: (-len(g[1]), g[0][0])
    )
    parts = []
    for (practice,), calls in groups[:MAX_LISTED]:
        days = sorted({d.isoformat() for d in calls["local_date"].to_list()})
        shown = ", ".join(days[:MAX_LISTED]) + (
            f" and {len(days) - MAX_LISTED} more days" if len(days) > MAX_LISTED else ""
        )
        parts.append(f"{practice} {len(calls)} on {shown} (e.g. {practice}:{calls['call_id'][0]})")
    others = len(groups) - MAX_LISTED
    more = f"; and {others} more practices" if others > 0 else ""
    return (
        f"{len(unended)} calls have not ended ({kinds}) at {len(groups)} practices: "
        + "; ".join(parts)
        + more
    )


def export_month(
    warehouse: Warehouse,
    month: str,
    out_dir: Path,
    flat: bool = False,
    allow_unended: bool = False,
) -> ExportResult:
    """Reconcile and write one month's files from an open Warehouse, all read from one
    snapshot: pinned here at the latest unless the warehouse was opened at one (a worker
    commit landing between the queries would otherwise put two states in one export).
    ``allow_unended``: write them although calls have not ended (``reconcile``); the
    manifest counts those calls."""
    require_begun(month, to_london(datetime.now(UTC)).date())
    if warehouse.snapshot_version is None:
        warehouse.pin(warehouse.snapshot().id)
    params = export_params(month)
    prepare_labels(warehouse.conn)
    month_only = {"month_start": params["month_start"], "month_end": params["month_end"]}
    require_facts_current(warehouse, month, month_only)
    check = warehouse.query(
        sqlfiles.read("export/cbt_month_check.sql"), month_only | {"unmapped": nhs.UNMAPPED}
    )
    unknown = warehouse.query(sqlfiles.read("export/cbt_unknown_labels.sql"), month_only)
    unended = reconcile(
        check,
        unknown,
        lambda: warehouse.query(sqlfiles.read("export/cbt_unended_calls.sql"), month_only),
        allow_unended,
    )
    snapshot = warehouse.snapshot()
    names = [*(_file_name(kind, params, flat) for kind in nhs.FileKind), manifest_name(month)]
    for name in names:  # found after the files were moved, it left some without a manifest
        if (out_dir / name).is_dir():
            raise ExportError(
                f"cannot write {out_dir / name}: a folder of that name is in the way; move it "
                "and export again"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".cbt-{month}-", dir=out_dir))
    totals = value_totals(check)
    present = set(check["member"].unique().to_list())
    try:
        entries = [
            write_flat(warehouse.conn, kind, month, params, staging)
            if flat
            else _write_zip(warehouse, kind, params, staging, present)
            for kind in nhs.FileKind
        ]
        for entry in entries:
            entry["value_total"] = totals[nhs.FileKind(entry.pop("kind"))]
        rules = warehouse.query(sqlfiles.read("export/cbt_rules_versions.sql"), month_only)
        extracts = warehouse.query(sqlfiles.read("export/reference_extracts_in_use.sql")).to_dicts()
        inbound = int(check["cbt001"].sum())
        manifest = {
            "month": month,
            "layout": "flat CSVs" if flat else "NHS England zips",
            "snapshot_id": snapshot.id,
            "snapshot_time": snapshot.time.isoformat(),
            "reproduce": f"callstream export cbt --month {month} --out DIR --snapshot "
            f"{snapshot.id}"
            + (" --flat" if flat else "")
            + (" --allow-unended" if any(unended.values()) else ""),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "callstream_version": _version(),
            "files": entries,
            "inbound_calls": inbound,
            "incomplete_calls": int(check["incomplete"].sum()),
            "answered_time_unknown": int(check["cbt003_time_unknown"].sum()),
            "unended_calls": unended,
            "practices": check["practice"].n_unique(),
            "unmapped_practices": check.filter(~pl.col("mapped"))["practice"].n_unique(),
            "rules_versions": rules["rules_versions"].to_list()[0] or [],
            "reference_extracts": [
                {
                    "kind": e["kind"],
                    "extract_date": e["extract_date"].isoformat(),
                    "files": e["files"],
                }
                for e in extracts
            ],
            "layout_choices": {choice.name: choice.writes for choice in nhs.CHOICES},
            "reconciliation": "CBT001 = CBT002+CBT003+CBT004+CBT005 per practice and day; "
            "CBT006 <= CBT005; CBT004 by bucket = its total; CBT003 and CBT007 by bucket = "
            "CBT003 less the answered_time_unknown calls (no wait, no talk: in neither the "
            "answered nor the durations file): passed"
            + (
                f"; and less the unended_calls (--allow-unended: {unended['answered']} answered "
                f"with no talk time, {unended['missed']} missed with no wait)"
                if any(unended.values())
                else ""
            ),
        }
        (staging / manifest_name(month)).write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        # Moved only once all are written, the manifest last: it describes these files.
        for name in names:
            (staging / name).replace(out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = [out_dir / entry["name"] for entry in entries]
    return ExportResult(files, out_dir / manifest_name(month), snapshot.id, inbound)


def require_facts_current(warehouse: Warehouse, month: str, month_only: dict[str, Any]) -> None:
    """ExportError when some practice-days of the month have calls their facts do not count
    yet (``sql/export/cbt_facts_behind.sql``): the files would lag the calls unannounced."""
    behind = warehouse.query(sqlfiles.read("export/cbt_facts_behind.sql"), month_only)
    days = int(behind["practice_days"][0])
    if days:
        raise ExportError(
            f"{days} practice-day(s) of {month} (from {behind['first_day'][0]}) have calls "
            "whose NHS figures the worker has not recounted yet (it does within "
            f"CALLSTREAM_FACTS_EVERY_S, {warehouse.settings.facts_every_s:g} s, while it runs; "
            "start it if it is stopped): export again in a minute. Nothing was written."
        )


def _file_name(kind: nhs.FileKind, params: dict[str, Any], flat: bool) -> str:
    """The name a kind's file is written under (``--flat``: the plain CSV's)."""
    start = params["month_start"]
    return flat_name(kind, f"{start:%Y-%m}") if flat else nhs.zip_name(kind, start)


def _rows_sql(kind: nhs.FileKind) -> str:
    """The rows of a file kind as published: its counts through sql/export/publication_rows.sql."""
    counts = sqlfiles.read(f"export/cbt_{kind.value}.sql")
    return f"WITH counts AS (\n{counts}\n)\n{sqlfiles.read('export/publication_rows.sql')}"


def _copy(
    conn: duckdb.DuckDBPyConnection,
    kind: nhs.FileKind,
    params: dict[str, Any],
    path: Path,
    member: str | None = None,
    staged: Path | None = None,
) -> int:
    """DuckDB writes the kind's rows (one region's, or all) as CSV, sorted, to ``path``;
    returns the rows written. ``staged``: the rows as ``_stage_rows`` wrote them, read
    from there instead of counted again."""
    header = ", ".join(f'"{name}"' for name in nhs.LAYOUTS[kind].header)
    where = "WHERE member = $member" if member is not None else ""
    if staged:  # already in FILE_ORDER: a filtered scan keeps it (preserve_insertion_order)
        rows, order = f"SELECT * FROM read_parquet({quote(str(staged))})", ""
    else:
        rows, order = _rows_sql(kind), f"ORDER BY {FILE_ORDER}"
    sql = (
        f"COPY (SELECT {header} FROM ({rows}\n) {where} {order}) "
        f"TO {quote(str(path))} (FORMAT csv, HEADER true, DELIMITER ',')"
    )
    values = {} if staged else dict(params)
    if member is not None:
        values["member"] = member
    written = conn.execute(sql, values).fetchall()  # every row: no transaction left open
    return int(written[0][0]) if written else 0


def _stage_rows(
    conn: duckdb.DuckDBPyConnection, kind: nhs.FileKind, params: dict[str, Any], path: Path
) -> None:
    """The kind's rows of the month, counted and sorted once into a Parquet file, by region and
    then in the files' order, so that each region's CSV is a scan of its own row groups, in
    order: neither counted nor sorted again (sorting each region again cost a third of the
    zips' time on a national month)."""
    sql = (
        f"COPY (SELECT * FROM ({_rows_sql(kind)}\n) ORDER BY member, {FILE_ORDER}) "
        f"TO {quote(str(path))}"
    )
    conn.execute(sql + " (FORMAT parquet)", params).fetchall()


def value_totals(check: pl.DataFrame) -> dict[nhs.FileKind, int]:
    """The sum of each file's Values, from the reconciled month (sql/export/cbt_month_check.sql):
    the day and time file holds every indicator, the durations file the untimed ones' TOTALs
    and the timed ones' buckets, the answered file CBT003's wait buckets."""

    def total(columns: list[str]) -> int:
        return int(sum(check[column].sum() for column in columns))

    timed = [f"{i.lower()}_by_wait" for i in nhs.BY_WAIT]
    timed += [f"{i.lower()}_by_duration" for i in nhs.BY_DURATION]
    answered = nhs.LAYOUTS[nhs.FileKind.answered].indicators
    return {
        nhs.FileKind.day_time: total([i.lower() for i in nhs.INDICATORS]),
        nhs.FileKind.durations: total([i.lower() for i in nhs.UNTIMED] + timed),
        nhs.FileKind.answered: total([f"{i.lower()}_by_wait" for i in answered]),
    }


def write_flat(
    conn: duckdb.DuckDBPyConnection,
    kind: nhs.FileKind,
    month: str,
    params: dict[str, Any],
    staging: Path,
) -> dict[str, Any]:
    """One flat CSV of the month, written by DuckDB on ``conn`` (bench/national_bench.py runs
    the same statements on plain DuckDB over the lake's Parquet files, as its baseline)."""
    name = flat_name(kind, month)
    rows = _copy(conn, kind, params, staging / name)
    return {"name": name, "kind": kind.value, "rows": rows, "sha256": _sha256(staging / name)}


def _write_zip(
    warehouse: Warehouse,
    kind: nhs.FileKind,
    params: dict[str, Any],
    staging: Path,
    present: set[str],
) -> dict[str, Any]:
    """One zip: a CSV for every region (``present``: those with practices this month)."""
    start = params["month_start"]
    parts = staging / kind.value
    parts.mkdir()
    staged = staging / f"{kind.value}.parquet"
    _stage_rows(warehouse.conn, kind, params, staged)
    written: list[tuple[str, Path]] = []
    entries = []
    for member in nhs.members(present):
        name = nhs.member_name(kind, start, member)
        path = parts / name
        if member in present:
            rows = _copy(warehouse.conn, kind, params, path, member, staged)
        else:  # a region with no practice here: its CSV is the header alone
            path.write_text(",".join(nhs.LAYOUTS[kind].header) + nhs.LINE_END, encoding="utf-8")
            rows = 0
        written.append((name, path))
        entries.append({"name": name, "rows": rows, "sha256": _sha256(path)})
    name = nhs.zip_name(kind, start)
    _zip(staging / name, written)
    return {
        "name": name,
        "kind": kind.value,
        "rows": sum(e["rows"] for e in entries),
        "sha256": _sha256(staging / name),
        "members": entries,
    }


def _zip(path: Path, members: list[tuple[str, Path]]) -> None:
    """A zip whose bytes depend only on the members' bytes: entries made by name get
    ZipInfo's fixed 1980-01-01 time and default attributes."""
    with zipfile.ZipFile(
        path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
    ) as archive:
        for name, source in members:
            large = source.stat().st_size >= zipfile.ZIP64_LIMIT
            with source.open("rb") as data, archive.open(name, "w", force_zip64=large) as out:
                shutil.copyfileobj(data, out, ZIP_CHUNK)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(ZIP_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version() -> str:
    try:
        return version("callstream")
    except PackageNotFoundError:
        return "unknown"
