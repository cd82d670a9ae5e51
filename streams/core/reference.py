"""Parse NHS reference files into the practice dimension (pure: no Kafka, no DuckDB).

Three file kinds, told apart by their first line:

- ``epraccur``: NHS ODS GP practices, no header, 27 columns (code, name, NHS England region,
  ICB, address..., status, commissioner = sub-ICB location, role code). It carries no extract
  date, so the caller supplies one (from the file name or ``--extract-date``).
- ``mapping``: NHS England "Patients registered at a GP practice" practice mapping
  (``gp-reg-pat-prac-map.csv``): practice -> PCN -> sub-ICB -> ICB -> region, with names.
- ``list_size``: the same publication's list sizes (``gp-reg-pat-prac-all.csv``):
  ``NUMBER_OF_PATIENTS`` per practice; breakdown rows (a sex or age other than ``ALL``) are
  counted and skipped, because the dimension holds the practice total.

Every extract is versioned by its extract date, so analysts can see which extract a figure
used and the views pick the latest. A row that cannot be read is kept as a ``Reject`` naming
the line and field, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.events import ODS_PATTERN
from streams.core.redact import masked

EPRACCUR_COLUMNS = 27
GP_PRACTICE_ROLE = "RO76"
#: Largest list size read: England's largest practices have a few hundred thousand patients,
#: so more than ten million is a damaged line (and would overflow the table's INTEGER).
MAX_LIST_SIZE = 10_000_000
#: Lines an epraccur file is recognised by: a damaged first line does not hide the rest.
KIND_LINES = 10
_ODS = re.compile(ODS_PATTERN)
_DATE_IN_NAME = re.compile(r"(20\d{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])")


class ReferenceError(Exception):
    """A reference file cannot be used as a whole; the message says why and what to do."""


class Kind(StrEnum):
    epraccur = "epraccur"
    mapping = "mapping"
    list_size = "list_size"


#: An NHS organisation code (PCN ``U12345``, sub-ICB ``00L``, ICB ``QWO``, region ``Y56``):
#: letters and digits only. Codes name dashboard pages and folders, so anything else (a
#: quote, a slash, ``..``) is refused here, at the door, with the field named.
OrgCode = Annotated[str | None, Field(pattern=r"^[A-Z0-9]{1,12}$")]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    practice: str = Field(pattern=ODS_PATTERN)


class OdsPractice(_Row):
    """One epraccur row: the practice as NHS ODS registers it."""

    name: str | None
    region_code: OrgCode
    icb_code: OrgCode
    sub_icb_code: OrgCode
    postcode: str | None
    open_date: date | None
    close_date: date | None
    status: str | None
    role_code: str | None


class PracticeMapping(_Row):
    """One row of the practice mapping: where the practice sits in the NHS hierarchy."""

    practice_name: str | None
    pcn_code: OrgCode
    pcn_name: str | None
    sub_icb_code: OrgCode
    sub_icb_name: str | None
    icb_code: OrgCode
    icb_name: str | None
    region_code: OrgCode
    region_name: str | None


class PracticeListSize(_Row):
    """Registered patients of a practice (all sexes, all ages)."""

    list_size: int = Field(ge=0, le=MAX_LIST_SIZE)


RowT = TypeVar("RowT", bound=_Row)


class Reject(BaseModel):
    """A line that could not be read, with the reason; written to the rejects file."""

    model_config = ConfigDict(frozen=True)

    line: int
    field: str | None
    reason: str
    raw: str


class Extract(BaseModel):
    """One parsed reference file."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    extract_date: date
    rows: list[OdsPractice] | list[PracticeMapping] | list[PracticeListSize]
    rejects: list[Reject] = []
    skipped: int = 0  # breakdown rows of a list-size file (not totals), counted not loaded
    duplicates: int = 0  # later rows for a practice already read (the last one is kept)


#: Header columns of the mapping file -> PracticeMapping fields.
MAPPING_COLUMNS: dict[str, str] = {
    "PRACTICE_CODE": "practice",
    "PRACTICE_NAME": "practice_name",
    "PCN_CODE": "pcn_code",
    "PCN_NAME": "pcn_name",
    "SUB_ICB_LOCATION_CODE": "sub_icb_code",
    "SUB_ICB_LOCATION_NAME": "sub_icb_name",
    "ICB_CODE": "icb_code",
    "ICB_NAME": "icb_name",
    "COMM_REGION_CODE": "region_code",
    "COMM_REGION_NAME": "region_name",
}
_MAPPING_REQUIRED = ("PRACTICE_CODE", "PCN_CODE", "ICB_CODE")
_LIST_SIZE_REQUIRED = ("CODE", "NUMBER_OF_PATIENTS")

#: epraccur column index (0-based) -> OdsPractice field.
EPRACCUR_FIELDS: dict[int, str] = {
    0: "practice",
    1: "name",
    2: "region_code",
    3: "icb_code",
    9: "postcode",
    10: "open_date",
    11: "close_date",
    12: "status",
    14: "sub_icb_code",
    25: "role_code",
}


def detect_kind(text: str) -> Kind:
    """Which reference file this is: the mapping and list sizes by their header, epraccur
    (no header) by a practice row among its first ``KIND_LINES`` lines, so one damaged first
    line is rejected as a row rather than refusing the file."""
    lines = _first_lines(text)
    first = next(_csv_rows(csv.reader(io.StringIO(lines[0]))), [])
    header = {cell.strip().upper() for cell in first}
    if all(col in header for col in _MAPPING_REQUIRED):
        return Kind.mapping
    if all(col in header for col in _LIST_SIZE_REQUIRED):
        return Kind.list_size
    if _ODS.match(first[0].strip() if first else "") and any(
        len(cells) == EPRACCUR_COLUMNS and _ODS.match(cells[0].strip())
        for cells in _csv_rows(csv.reader(io.StringIO("\n".join(lines))))
    ):
        return Kind.epraccur
    raise ReferenceError(
        "not a known NHS reference file: expected ODS epraccur (27 columns, no header), the "
        "practice mapping (PRACTICE_CODE, PCN_CODE, ICB_CODE...) or list sizes "
        f"(CODE, NUMBER_OF_PATIENTS); first line has {len(first)} columns"
    )


def date_from_name(name: str) -> date | None:
    """An extract date written in a file name (``epraccur_20260801.csv``), if any."""
    match = _DATE_IN_NAME.search(name)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def parse_extract_date(value: str) -> date:
    """NHS extract dates: ``01AUG2026`` (the publication's form), ISO, or ``01/08/2026``."""
    text = value.strip()
    for fmt in ("%d%b%Y", "%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y", "%Y%m%d"):
        try:
            return datetime.strptime(text.title() if "%b" in fmt else text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{value}' is not a date (expected e.g. 01AUG2026 or 2026-08-01)")


def parse(text: str, extract_date: date | None = None, latest: date | None = None) -> Extract:
    """Parse a reference file of any kind; ``extract_date`` is required for epraccur and
    overrides the file's own EXTRACT_DATE otherwise. An extract dated after ``latest``
    (today, when loading) is refused: the views take the latest extract, so a future date
    would win over every real one to come."""
    kind = detect_kind(text)
    if kind is Kind.epraccur:
        if extract_date is None:
            raise ReferenceError(
                "an epraccur file has no extract date: put it in the file name "
                "(epraccur_20260801.csv) or pass --extract-date YYYY-MM-DD"
            )
        extract = parse_epraccur(text, extract_date)
    elif kind is Kind.mapping:
        extract = parse_mapping(text, extract_date)
    else:
        extract = parse_list_sizes(text, extract_date)
    if latest is not None and extract.extract_date > latest:
        raise ReferenceError(
            f"the extract date {extract.extract_date.isoformat()} is after today "
            f"({latest.isoformat()}): check the file name, EXTRACT_DATE or --extract-date"
        )
    return extract


def parse_epraccur(text: str, extract_date: date) -> Extract:
    """epraccur rows -> OdsPractice; dates are YYYYMMDD, empty means none."""
    rows: dict[str, OdsPractice] = {}
    rejects: list[Reject] = []
    duplicates = 0
    for line, cells in _records(_csv_rows(csv.reader(io.StringIO(text)))):
        raw = ",".join(cells)
        if len(cells) != EPRACCUR_COLUMNS:
            rejects.append(
                Reject(
                    line=line,
                    field=None,
                    reason=f"has {len(cells)} columns, epraccur has {EPRACCUR_COLUMNS}",
                    raw=raw,
                )
            )
            continue
        values: dict[str, object] = {}
        bad: Reject | None = None
        for index, name in EPRACCUR_FIELDS.items():
            cell = cells[index].strip()
            if name.endswith("_date"):
                try:
                    values[name] = datetime.strptime(cell, "%Y%m%d").date() if cell else None
                except ValueError:
                    field = _source_name(OdsPractice, name)
                    bad = Reject(
                        line=line, field=field, reason=f"'{cell}' is not YYYYMMDD", raw=raw
                    )
                    break
            else:
                values[name] = cell or None
        if bad is not None:
            rejects.append(bad)
            continue
        row = _validate(OdsPractice, values, line, raw, rejects)
        if row is not None:
            duplicates += row.practice in rows
            rows[row.practice] = row
    return Extract(
        kind=Kind.epraccur,
        extract_date=extract_date,
        rows=list(rows.values()),
        rejects=rejects,
        duplicates=duplicates,
    )


def parse_mapping(text: str, extract_date: date | None = None) -> Extract:
    """The practice mapping CSV (header row; extra columns such as ONS codes are ignored)."""
    reader = _dict_reader(text, _MAPPING_REQUIRED)
    rows: dict[str, PracticeMapping] = {}
    rejects: list[Reject] = []
    dates: set[date] = set()
    duplicates = 0
    for line, record in _numbered(reader):
        raw = ",".join(str(v) for v in record.values())
        if extract_date is None and not _take_date(record, line, raw, dates, rejects):
            continue
        values = {
            field: (record.get(col) or "").strip() or None for col, field in MAPPING_COLUMNS.items()
        }
        row = _validate(PracticeMapping, values, line, raw, rejects)
        if row is not None:
            duplicates += row.practice in rows
            rows[row.practice] = row
    return Extract(
        kind=Kind.mapping,
        extract_date=extract_date or _one_date(dates, Kind.mapping),
        rows=list(rows.values()),
        rejects=rejects,
        duplicates=duplicates,
    )


def parse_list_sizes(text: str, extract_date: date | None = None) -> Extract:
    """List sizes: one total per practice (SEX and AGE ``ALL`` when those columns exist)."""
    reader = _dict_reader(text, _LIST_SIZE_REQUIRED)
    rows: dict[str, PracticeListSize] = {}
    rejects: list[Reject] = []
    dates: set[date] = set()
    skipped = duplicates = 0
    for line, record in _numbered(reader):
        raw = ",".join(str(v) for v in record.values())
        breakdown = any(
            (record.get(col) or "ALL").strip().upper() != "ALL" for col in ("SEX", "AGE")
        )
        if breakdown:
            skipped += 1
            continue
        if extract_date is None and not _take_date(record, line, raw, dates, rejects):
            continue
        values = {
            "practice": (record.get("CODE") or "").strip(),
            "list_size": (record.get("NUMBER_OF_PATIENTS") or "").strip(),
        }
        row = _validate(PracticeListSize, values, line, raw, rejects)
        if row is not None:
            duplicates += row.practice in rows
            rows[row.practice] = row
    return Extract(
        kind=Kind.list_size,
        extract_date=extract_date or _one_date(dates, Kind.list_size),
        rows=list(rows.values()),
        rejects=rejects,
        skipped=skipped,
        duplicates=duplicates,
    )


def _first_lines(text: str) -> list[str]:
    """The first ``KIND_LINES`` lines that are not blank."""
    lines: list[str] = []
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            lines.append(line)
            if len(lines) == KIND_LINES:
                break
    if not lines:
        raise ReferenceError("the file is empty")
    return lines


_Item = TypeVar("_Item")


def _csv_rows(reader: Iterator[_Item]) -> Iterator[_Item]:
    """The reader's rows; a line the csv module cannot read at all (a field over its
    131,072-character limit, a NUL) stops the file with its line named."""
    try:
        yield from reader
    except csv.Error as exc:
        inner = getattr(reader, "reader", reader)  # a DictReader counts only lines it returned
        line = getattr(inner, "line_num", 0)
        raise ReferenceError(
            f"line {line}: cannot be read as CSV ({exc}): not an NHS reference file as published"
        ) from None


def _records(reader: Iterable[list[str]]) -> Iterable[tuple[int, list[str]]]:
    for line, cells in enumerate(reader, start=1):
        if line == 1 and cells:
            cells = [cells[0].lstrip("\ufeff"), *cells[1:]]
        if any(cell.strip() for cell in cells):
            yield line, cells


def _dict_reader(text: str, required: tuple[str, ...]) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    reader.fieldnames = [name.strip().upper() for name in reader.fieldnames or []]
    missing = [col for col in required if col not in reader.fieldnames]
    if missing:
        raise ReferenceError(f"header lacks column(s) {', '.join(missing)}")
    return reader


def _numbered(reader: csv.DictReader[str]) -> Iterable[tuple[int, dict[str, str]]]:
    for record in _csv_rows(reader):
        if any((value or "").strip() for value in record.values() if isinstance(value, str)):
            yield reader.line_num, record


def _take_date(
    record: dict[str, str], line: int, raw: str, dates: set[date], rejects: list[Reject]
) -> bool:
    value = (record.get("EXTRACT_DATE") or "").strip()
    if not value:
        rejects.append(Reject(line=line, field="EXTRACT_DATE", reason="is empty", raw=raw))
        return False
    try:
        dates.add(parse_extract_date(value))
    except ValueError as exc:
        rejects.append(Reject(line=line, field="EXTRACT_DATE", reason=str(exc), raw=raw))
        return False
    return True


def _one_date(dates: set[date], kind: Kind) -> date:
    if not dates:
        raise ReferenceError(
            f"the {kind.value} file has no readable EXTRACT_DATE: pass --extract-date YYYY-MM-DD"
        )
    if len(dates) > 1:
        listed = ", ".join(sorted(d.isoformat() for d in dates))
        raise ReferenceError(
            f"the {kind.value} file mixes extract dates ({listed}): load one extract per file"
        )
    return next(iter(dates))


def _validate(
    model: type[RowT], values: dict[str, object], line: int, raw: str, rejects: list[Reject]
) -> RowT | None:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        shown = values.get(field) if field else None
        reason = (
            f"'{masked(str(shown))}': {error['msg']}" if shown not in (None, "") else error["msg"]
        )
        rejects.append(Reject(line=line, field=_source_name(model, field), reason=reason, raw=raw))
        return None


def _source_name(model: type[_Row], field: str | None) -> str | None:
    """The column name an analyst sees in the file, for a model field."""
    if field is None:
        return None
    if model is PracticeMapping:
        return next((col for col, f in MAPPING_COLUMNS.items() if f == field), field)
    if model is PracticeListSize:
        return {"practice": "CODE", "list_size": "NUMBER_OF_PATIENTS"}.get(field, field)
    index = next((i for i, f in EPRACCUR_FIELDS.items() if f == field), None)
    return f"column {index + 1} ({field})" if index is not None else field
