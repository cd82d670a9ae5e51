"""NHS England's monthly Cloud Based Telephony (CBT) files: their layout, and a reader for them.

Pure (no DuckDB): ``callstream export cbt`` writes this layout and ``callstream nhs load``
reads it back, from NHS England's own zips or from our export, through this one module.

What is known for certain of the real files (from public pipelines that have read every
month since October 2025) is written as plain constants. Every detail that is *not* known
for certain is a named entry of ``CHOICES``, next to the constant that carries it, and is
listed in docs/analysts.md (a test checks) so an analyst holding the real files can check
each one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from models.classified import DURATION_BUCKETS, TIME_BANDS, WAIT_BUCKETS
from models.events import ODS_PATTERN


class FileKind(StrEnum):
    """The three files of a month (one zip each)."""

    day_time = "day_time"
    durations = "durations"
    answered = "answered"


HIERARCHY = (
    "Date",
    "REGION_CODE",
    "ICB_CODE",
    "SUB_ICB_LOCATION_CODE",
    "PCN_CODE",
    "PRACTICE_CODE",
)
INDICATORS = ("CBT001", "CBT002", "CBT003", "CBT004", "CBT005", "CBT006", "CBT007")
CORE_CATEGORIES = ("Core_8_10", "Core_10_1830", "Non-Core")
#: Geography NHS England cannot place (a practice in no mapping): all four codes.
UNMAPPED = "Unmapped"
#: PRACTICE_CODE of calls on a phone account shared by several practices (never ours).
UNASSIGNED = "Unassigned"
#: The Duration of the indicators that have no time breakdown.
TOTAL = "TOTAL"
#: NHS England's commissioning regions: each has its CSV in every zip, and so has Unmapped.
REGIONS = ("Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63")
#: Durations file: CBT001, CBT002, CBT005, CBT006 as TOTAL; CBT003 and CBT004 by wait bucket;
#: CBT007 by talk duration bucket (the buckets are view cbt_call_indicators' bucket_kind).
UNTIMED = ("CBT001", "CBT002", "CBT005", "CBT006")
BY_WAIT = ("CBT003", "CBT004")
BY_DURATION = ("CBT007",)
#: The first month NHS England published (October 2025): no file holds an earlier date.
FIRST_MONTH = date(2025, 10, 1)
#: Largest Value a row may hold: England's practices take about 30 million calls a month, so
#: a billion in one row is a damaged file (and sums of rows stay exact in 64-bit integers).
MAX_VALUE = 1_000_000_000
#: Blank lines in a row a file may have before it is refused as not a CBT file.
MAX_BLANK_LINES = 1_000


@dataclass(frozen=True)
class Layout:
    """One file of the publication: its title, header and the indicators it carries."""

    kind: FileKind
    title: str
    header: tuple[str, ...]
    indicators: tuple[str, ...]


LAYOUTS: dict[FileKind, Layout] = {
    FileKind.day_time: Layout(
        FileKind.day_time,
        "Cloud Based Telephony By Day and Time",
        (*HIERARCHY, "Indicator", "Time_Category", "Value"),
        INDICATORS,
    ),
    FileKind.durations: Layout(
        FileKind.durations,
        "Cloud Based Telephony By Durations",
        (*HIERARCHY, "Indicator", "Duration", "Value"),
        INDICATORS,
    ),
    FileKind.answered: Layout(
        FileKind.answered,
        "Cloud Based Telephony Calls Answered Metric",
        (*HIERARCHY, "Indicator", "Wait_Time", "Core_Category", "Value"),
        ("CBT003",),
    ),
}

# --- the choices: what is not known for certain of the real files ---------------------------

#: Date: ISO, year first, day only. Known: "ISO, year first"; not known: whether a time follows.
DATE_FORMAT = "%Y-%m-%d"
#: Value: a count written as a float with one decimal (``12.0``).
VALUE_FORMAT = "%.1f"
#: Rows whose Value is 0 are not written (NHS England's row counts imply they are absent).
WRITE_ZERO_ROWS = False
#: CBT007's Duration labels, in seconds like the wait buckets, one per callstream talk bucket
#: (the four categories NHS England's summary tables publish).
DURATION_LABELS: dict[str, str] = dict(
    zip(DURATION_BUCKETS, ("0_60", "61_120", "121_300", ">300"), strict=True)
)
#: Rows are sorted by Date, PRACTICE_CODE, Indicator, then bands and buckets in NHS order.
SORT_ORDER = ("Date", "PRACTICE_CODE", "Indicator", "Time_Category/Duration/Wait_Time", "Core")
#: CSV text: UTF-8 without a byte-order mark, comma-separated, LF line ends, header row.
LINE_END = "\n"


@dataclass(frozen=True)
class Choice:
    """A layout detail not known for certain: what callstream writes, and why."""

    name: str
    writes: str
    why: str


CHOICES: tuple[Choice, ...] = (
    Choice(
        "date_format",
        f"Date as {DATE_FORMAT!r}, e.g. 2026-08-03",
        "NHS England's files are known to be ISO, year first; whether a time of day follows "
        "is not known. The loader reads either.",
    ),
    Choice(
        "value_format",
        "Value as a float with one decimal, e.g. 12.0",
        "the published counts are written as floats; the exact float form is not known. "
        "The loader reads 12, 12.0 and 1.2e1 alike and refuses a count that is not whole.",
    ),
    Choice(
        "zero_rows",
        "no row whose Value is 0",
        "the published row counts imply zero rows are mostly absent.",
    ),
    Choice(
        "duration_labels",
        "CBT007's Duration as " + ", ".join(DURATION_LABELS.values()) + " (seconds)",
        "the CSV uses second-range labels (0, N_M, >N) for timed indicators; which ranges "
        "CBT007 uses is not known. These four are the categories NHS England's summary "
        "tables publish (1 minute or less, 1 to 2, 2 to 5, over 5 minutes).",
    ),
    Choice(
        "region_members",
        "a CSV for each of the seven regions and Unmapped in every zip, header only when the "
        "region has no rows",
        "NHS England publishes nationally, so every region has a CSV; a local warehouse "
        "holds some regions only.",
    ),
    Choice(
        "sort_order",
        "rows sorted by " + ", ".join(SORT_ORDER),
        "the order of the published rows is not known; this one makes a file reproducible.",
    ),
    Choice(
        "csv_text",
        "UTF-8, no byte-order mark, comma-separated, LF line ends, a header row, quotes only "
        "where a field needs them",
        "the published files' encoding and line ends are not known. The loader reads a "
        "byte-order mark and CRLF too.",
    ),
)


def month_title(month: date) -> str:
    """``August 2026``: how NHS England names a month in its file names."""
    return f"{month:%B %Y}"


def zip_name(kind: FileKind, month: date) -> str:
    """``Cloud Based Telephony By Day and Time - August 2026.zip``."""
    return f"{LAYOUTS[kind].title} - {month_title(month)}.zip"


def member_name(kind: FileKind, month: date, member: str) -> str:
    """``Cloud Based Telephony By Day and Time - August 2026_Y56.csv`` (or ``_Unmapped``)."""
    return f"{LAYOUTS[kind].title} - {month_title(month)}_{member}.csv"


def members(present: Iterable[str]) -> list[str]:
    """The CSVs of a zip: every region, any other region code the data has, then Unmapped."""
    extra = sorted(set(present) - {*REGIONS, UNMAPPED})
    return [*REGIONS, *extra, UNMAPPED]


@dataclass(frozen=True)
class Label:
    """One label a category column may hold for an indicator: callstream's word for it, the
    published word, and its place in NHS order (how rows sort)."""

    category: str
    indicator: str
    ours: str
    label: str
    rank: int


def label_rows() -> list[Label]:
    """Every label of every category column, per indicator: what a published value must be
    and what each of callstream's bands, buckets and core categories is written as."""
    waits = [(bucket, bucket) for bucket in WAIT_BUCKETS]
    per_indicator: list[tuple[str, tuple[str, ...], list[tuple[str, str]]]] = [
        ("Time_Category", INDICATORS, [(band, band) for band in TIME_BANDS]),
        ("Duration", UNTIMED, [(TOTAL, TOTAL)]),
        ("Duration", BY_WAIT, waits),
        ("Duration", BY_DURATION, list(DURATION_LABELS.items())),
        ("Wait_Time", LAYOUTS[FileKind.answered].indicators, waits),
        ("Core_Category", LAYOUTS[FileKind.answered].indicators, [(c, c) for c in CORE_CATEGORIES]),
    ]
    return [
        Label(category, indicator, ours, label, rank)
        for category, indicators, pairs in per_indicator
        for indicator in indicators
        for rank, (ours, label) in enumerate(pairs)
    ]


def label_columns() -> dict[str, list[str | int]]:
    """``label_rows`` as one list per field (category, indicator, ours, label, rank): the
    parameters of sql/published/publication_labels.sql."""
    rows = label_rows()
    return {name: [getattr(row, name) for row in rows] for name in Label.__dataclass_fields__}


# --- reading the files back -------------------------------------------------------------------

#: A file name of NHS England's form, and the region part of a member's name.
_NHS_NAME = re.compile(r"^Cloud Based Telephony .+ - [A-Za-z]+ \d{4}(?:_(?P<member>[^_/\\]+))?\.")
_SECONDS_LABEL = re.compile(r"^(0|\d+_\d+|>\d+)$")
_ODS = re.compile(ODS_PATTERN)
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y", "%d%b%Y")
#: Loaded-row column names, in order (the warehouse table nhs_cbt_published).
ROW_COLUMNS = (
    "local_date",
    "region_code",
    "icb_code",
    "sub_icb_code",
    "pcn_code",
    "practice",
    "indicator",
    "time_band",
    "duration",
    "wait_time",
    "core_category",
    "value",
    "source_line",
)
#: Published header -> loaded column.
_COLUMN_OF = {
    "REGION_CODE": "region_code",
    "ICB_CODE": "icb_code",
    "SUB_ICB_LOCATION_CODE": "sub_icb_code",
    "PCN_CODE": "pcn_code",
    "PRACTICE_CODE": "practice",
    "Indicator": "indicator",
    "Time_Category": "time_band",
    "Duration": "duration",
    "Wait_Time": "wait_time",
    "Core_Category": "core_category",
}
ALL_REGIONS = "ALL"


class PublishedFileError(Exception):
    """A CBT file does not parse; the message names the file, the line and the field."""


@dataclass
class ParsedCsv:
    """One CSV read: its kind, the member it is (a region code, or ALL for a flat file),
    its month and, per batch, the rows as columns of ``ROW_COLUMNS``."""

    source: str
    kind: FileKind
    member: str
    months: dict[date, int] = field(default_factory=dict)  # month -> first line with it
    regions: set[str] = field(default_factory=set)  # REGION_CODE values the rows hold
    rows: int = 0
    value_total: int = 0

    @property
    def month(self) -> date | None:
        """The one month of the file (after reading it), None when it has no rows (a region
        with no practice); an error naming the line that brought a second month."""
        if len(self.months) > 1:
            first, second = sorted(self.months.items(), key=lambda item: item[1])[:2]
            raise PublishedFileError(
                f"{self.source}, line {second[1]}: Date is in {month_title(second[0])}, but the "
                f"file began with {month_title(first[0])}: load one month per file"
            )
        return next(iter(self.months), None)


def member_of(name: str) -> str:
    """The region part of a published member's name (``..._Y56.csv`` -> ``Y56``), else ALL
    (a file holding every region: our ``--flat`` export, or a concatenation)."""
    match = _NHS_NAME.match(name.rsplit("/", 1)[-1])
    return match.group("member") if match and match.group("member") else ALL_REGIONS


def read_csv(
    source: str, lines: Iterable[str], latest: date, batch_rows: int = 100_000
) -> tuple[ParsedCsv, Iterator[dict[str, list]]]:
    """Start reading one CSV of the publication: its header says which file it is.

    Returns the file's description (months, rows and totals fill in as the batches are
    consumed) and the batches of rows as columns. Anything that does not parse raises
    PublishedFileError naming ``source``, the line and the field; so does a Date before
    ``FIRST_MONTH`` or after ``latest`` (today: no file holds a day still to come).
    """
    reader = csv.reader(_without_bom(iter(lines)))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise PublishedFileError(f"{source}: the file is empty") from None
    except csv.Error as exc:
        raise PublishedFileError(f"{source}, line 1: is not CSV ({exc})") from None
    kind = _kind_of(source, header)
    parsed = ParsedCsv(source, kind, member_of(source))
    return parsed, _batches(parsed, reader, header, (FIRST_MONTH, latest), batch_rows)


def _kind_of(source: str, header: list[str]) -> FileKind:
    names = {name.casefold() for name in header}
    for kind in (FileKind.answered, FileKind.durations, FileKind.day_time):
        wanted = LAYOUTS[kind].header
        if all(name.casefold() in names for name in wanted):
            return kind
    expected = "; ".join(",".join(layout.header) for layout in LAYOUTS.values())
    raise PublishedFileError(
        f"{source}, line 1: not a CBT publication file: the header is {','.join(header)!r}, "
        f"expected one of {expected}"
    )


def _batches(
    parsed: ParsedCsv,
    reader: Iterator[list[str]],
    header: list[str],
    span: tuple[date, date],
    batch_rows: int,
) -> Iterator[dict[str, list]]:
    layout = LAYOUTS[parsed.kind]
    position = {name.casefold(): i for i, name in enumerate(header)}
    index = {name: position[name.casefold()] for name in layout.header}
    width = len(header)
    categories = layout.header[7:-1]
    allowed = _allowed_labels()
    dates: dict[str, date] = {}
    batch: dict[str, list] = {name: [] for name in ROW_COLUMNS}
    blank = 0
    for line, cells in _rows(parsed, reader):
        if not any(cell.strip() for cell in cells):
            blank += 1
            if blank > MAX_BLANK_LINES:
                raise _error(
                    parsed,
                    line,
                    None,
                    f"more than {MAX_BLANK_LINES:,} blank lines in a row: "
                    "not a CBT publication file",
                )
            continue
        blank = 0
        if len(cells) != width:
            raise _error(parsed, line, None, f"has {len(cells)} fields, the header {width}")
        text = cells[index["Date"]].strip()
        day = dates.get(text)
        if day is None:
            day = dates[text] = _parse_date(parsed, line, text, span)
        month = day.replace(day=1)
        parsed.months.setdefault(month, line)
        batch["local_date"].append(day)
        for name in HIERARCHY[1:]:
            value = cells[index[name]].strip()
            if not value:
                raise _error(parsed, line, name, "is empty")
            if name == "PRACTICE_CODE" and value != UNASSIGNED and not _ODS.match(value):
                raise _error(
                    parsed, line, name, f"{value!r} is not an ODS practice code or {UNASSIGNED}"
                )
            batch[_COLUMN_OF[name]].append(value)
        parsed.regions.add(batch["region_code"][-1])
        indicator = cells[index["Indicator"]].strip()
        if indicator not in INDICATORS:
            raise _error(parsed, line, "Indicator", f"{indicator!r} is not one of CBT001-CBT007")
        if indicator not in layout.indicators:
            raise _error(
                parsed,
                line,
                "Indicator",
                f"{indicator!r} is not in the {layout.title} file "
                f"(it carries {', '.join(layout.indicators)} only)",
            )
        batch["indicator"].append(indicator)
        for name in ("Time_Category", "Duration", "Wait_Time", "Core_Category"):
            if name not in categories:
                batch[_COLUMN_OF[name]].append(None)
                continue
            label = cells[index[name]].strip()
            if label not in allowed[name] and not (
                name == "Duration" and _SECONDS_LABEL.match(label)
            ):
                raise _error(parsed, line, name, f"{label!r} is not a published {name} label")
            if name == "Duration" and (label == TOTAL) != (indicator in UNTIMED):
                wanted = TOTAL if indicator in UNTIMED else "a wait or talk time range"
                raise _error(parsed, line, name, f"{label!r} for {indicator}: it is {wanted}")
            batch[_COLUMN_OF[name]].append(label)
        value = _parse_count(parsed, line, cells[index["Value"]].strip())
        batch["value"].append(value)
        batch["source_line"].append(line)
        parsed.rows += 1
        parsed.value_total += value
        if len(batch["value"]) >= batch_rows:
            yield batch
            batch = {name: [] for name in ROW_COLUMNS}
    if batch["value"]:
        yield batch
    parsed.month  # noqa: B018 - one month per file: checked once every line is read


def _rows(parsed: ParsedCsv, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row; a line the csv module cannot split is an error."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num  # type: ignore[attr-defined]
            raise _error(parsed, line, None, f"is not CSV ({exc})") from None
        yield reader.line_num, cells  # type: ignore[attr-defined]


def _allowed_labels() -> dict[str, set[str]]:
    allowed: dict[str, set[str]] = {}
    for row in label_rows():
        allowed.setdefault(row.category, set()).add(row.label)
    allowed["Duration"] |= set(DURATION_BUCKETS)  # the summary tables' names, if a file has them
    return allowed


def _parse_date(parsed: ParsedCsv, line: int, text: str, span: tuple[date, date]) -> date:
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(text.title() if "%b" in fmt else text, fmt).date()
        except ValueError:
            continue
        if day < span[0]:
            reason = f"is before {month_title(span[0])}, when NHS England began publishing"
            raise _error(parsed, line, "Date", f"{text!r} {reason}")
        if day > span[1]:
            raise _error(parsed, line, "Date", f"{text!r} is after today ({span[1]:%Y-%m-%d})")
        return day
    raise _error(parsed, line, "Date", f"{text!r} is not a date (e.g. 2026-08-03)")


def _parse_count(parsed: ParsedCsv, line: int, text: str) -> int:
    """A count written as 12, 12.0 or 1.2e1, read exactly (a float would round past 2**53)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _error(parsed, line, "Value", f"{text!r} is not a number") from None
    if number.is_finite() and number > MAX_VALUE:
        raise _error(parsed, line, "Value", f"{text!r} is more than {MAX_VALUE:,}: not a count")
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        raise _error(parsed, line, "Value", f"{text!r} is not a count (a whole number, 0 or more)")
    return int(number)


def _error(parsed: ParsedCsv, line: int, name: str | None, reason: str) -> PublishedFileError:
    where = f"{parsed.source}, line {line}"
    return PublishedFileError(f"{where}: {name} {reason}" if name else f"{where}: {reason}")


def _without_bom(lines: Iterator[str]) -> Iterator[str]:
    first = next(lines, None)
    if first is None:
        return
    yield first.lstrip("\ufeff")
    yield from lines
