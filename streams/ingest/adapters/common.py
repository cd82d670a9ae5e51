"""What every vendor adapter shares: its output line, the practice check, ids and times.

Adapters are pure: text in, canonical v1 events out, no Kafka and no DuckDB. Each output
item carries the source line number so a rejected line can be found in the vendor file.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from models.events import ODS_PATTERN, WITHHELD, WITHHELD_SYNONYMS, CallEvent
from streams.core import errors

_ODS = re.compile(ODS_PATTERN)
logger = logging.getLogger("callstream.adapters")


@dataclass(frozen=True)
class AdapterLine:
    """One result of an adapter: an event or the reason a source line was rejected."""

    line: int
    event: CallEvent | None = None
    error: str | None = None


#: What an adapter counts while reading: skipped lines by reason, adjustments made.
Tally = Counter[str]


def require_practice(practice: str | None, fmt: str) -> str:
    """Vendor files carry no ODS code, so the caller must name the practice."""
    if not practice:
        raise ValueError(f"--practice ODS is required for {fmt} files: they carry no ODS code")
    practice = practice.strip().upper()
    if not _ODS.match(practice):
        raise ValueError(f"--practice must be an ODS code like A12345, not {practice!r}")
    return practice


def source_digest(text: str) -> str:
    """A short stable digest of a source line: re-reading the same file gives the same ids
    (of its bytes as written, also those that were not UTF-8)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def make_event_id(call_id: str, source: str, event_type: str) -> str:
    """Deterministic event id from the call, the source line's content and the event type."""
    return f"{call_id}:{source_digest(source)}:{event_type}"


#: The years a time in a phone system's file can be in: anything else is no time of a call in
#: the unit its field names (an epoch in milliseconds, a corrupt counter or clock) and would
#: overflow the conversion to a date. Every adapter checks its times against these.
YEARS = range(2000, 2100)
EPOCH_MIN = 946_684_800  # 2000-01-01T00:00:00Z
EPOCH_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z
#: The longest a call, a leg of one or a wait in it can last, in seconds: a larger duration,
#: holdtime or ring time is a corrupt counter. Far above any real call (``call_max_span_s``,
#: 4 h by default, still bounds a call's span); this only keeps garbage out of the arithmetic.
LONGEST_S = 24 * 3600
#: How long after a call seems to have ended a file's reader holds it for a line that
#: continues it (another queue after an announcement, a CDR leg written late): an hour.
CALL_GRACE_S = 3600.0


def utc_from_epoch(seconds: float) -> datetime:
    """Unix seconds (Asterisk, FreeSWITCH) as an aware UTC time."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def caller_or_withheld(number: str | None) -> str:
    """The number as given, or ``withheld`` when the system shows none."""
    value = (number or "").strip().strip('"').strip()
    if not value or value.lower() in WITHHELD_SYNONYMS:
        return WITHHELD
    return value


def undecodable(text: str) -> bool:
    """Whether text holds bytes that were not UTF-8 (lines are decoded with surrogate escapes)."""
    return not text.isascii() and any("\udc80" <= char <= "\udcff" for char in text)


def free_text(text: str) -> str:
    """A free-text value (a caller's name) with bytes that were not UTF-8 replaced by U+FFFD:
    phone systems write names in whatever encoding the trunk sent."""
    if not undecodable(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def not_utf8(field: str) -> str:
    """The reason for a line with bytes that are not UTF-8 in a field that must be text."""
    return f"{field} is not UTF-8 text (bytes in another encoding)"


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One CSV record: where it starts, its cells (None when the csv module refused it: a
    carriage return outside quotes, a cell over its size limit) and the source lines it was
    read from (more than one when a quoted cell ran over a line end)."""

    line: int
    cells: list[str] | None
    lines: list[str]


def csv_records(lines: Iterable[str]) -> Iterator[CsvRecord]:
    """The records of a CSV file, one at a time: a record the csv module refuses is given as
    such and reading goes on with the next line (the csv reader starts afresh after an
    error), so one damaged row never stops a file. Keeps one record's lines, no more."""
    taken: list[str] = []

    def source() -> Iterator[str]:
        for text in lines:
            taken.append(text)
            yield text

    reader = csv.reader(source())
    while True:
        taken.clear()
        start = reader.line_num + 1
        try:
            cells: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            cells = None
        yield CsvRecord(start, cells, list(taken))


def csv_fault(
    record: CsvRecord,
    header: Sequence[str] | None,
    layouts: Mapping[int, Sequence[str]] | None = None,
) -> str:
    """Why the csv module refused a record, naming the column (its own message names none):
    by name when the file's ``header`` or, without one, ``layouts`` (number of cells ->
    column names) give the row's, else by position. Never quotes the row."""
    text = "".join(record.lines).removesuffix("\n").removesuffix("\r")
    cells = _raw_cells(text)
    names = header or (layouts or {}).get(len(cells))

    def column(index: int) -> str:
        if names is not None and len(names) == len(cells):
            return f"column '{names[index]}'"
        return f"column {index + 1}"

    limit = csv.field_size_limit()
    for index, cell in enumerate(cells):
        quoted = cell.startswith('"')
        if not quoted and "\r" in cell:
            return f"{column(index)} has a carriage return (CR) outside quotes"
        if len(cell) - 2 * quoted > limit:
            return f"{column(index)} is longer than {limit} characters"
    return "the row is not CSV that can be read"


def _raw_cells(text: str) -> list[str]:
    """A row's cells as written (quotes kept), split on the commas outside quotes: for the
    rows the csv module refuses, which it cannot split."""
    cells: list[list[str]] = []
    quotes = 0
    for piece in text.split(","):
        if quotes % 2:
            cells[-1].append(piece)
            quotes += piece.count('"')
        else:
            cells.append([piece])
            quotes = piece.count('"') if piece.startswith('"') else 0
    return [",".join(pieces) for pieces in cells]


#: What reading one malformed source row may raise besides a validation error: a number or a
#: time out of range (``OverflowError``, ``ValueError``, ``OSError`` from
#: ``datetime.fromtimestamp``), a JSON value of an unexpected shape (``TypeError``,
#: ``AttributeError``, ``KeyError``, ``IndexError``), nesting too deep. An adapter catches
#: these per row, so one row never stops the file.
ROW_FAULTS: tuple[type[Exception], ...] = (
    ValueError,
    OSError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
)


def unreadable(what: str, exc: BaseException) -> str:
    """The reason for a source row an adapter could not make sense of: names the row's part
    (``what``) and the kind of fault, never the input or the exception's text (either may
    hold a caller's number). Adapters name the field where they can check it first."""
    return f"{what} could not be read ({type(exc).__name__})"


def build_event(line: int, fields: dict[str, Any]) -> AdapterLine:
    """Validate one event; a failure becomes an error naming the field (never its value)."""
    try:
        return AdapterLine(line, event=CallEvent(**fields))
    except ValidationError as exc:
        return AdapterLine(line, error=errors.one_line(exc))


#: Counts a user should see without ``-v``: the file holds calls we do not read, damage,
#: or measures we could not take.
WARNINGS = ("skipped: unknown", "NUL padding", "wait and talk unknown")


def reported(items: Iterator[AdapterLine] | Iterator[Any], tally: Tally, fmt: str) -> Iterator[Any]:
    """Pass an adapter's output through, then log what it skipped or adjusted and why.

    ``WARNINGS`` are warnings; the rest (system lines, b-legs, corrected times) is routine
    and logged at info level (``callstream -v``).
    """
    yield from items
    for reason, count in sorted(tally.items()):
        level = logging.WARNING if reason.startswith(WARNINGS) else logging.INFO
        logger.log(level, "%s: %s: %d", fmt, reason, count)
