"""Rows of an Asterisk CDR file -> legs: the layouts we read, times, channel names.

Asterisk writes CDR files in more than one layout: ``cdr_csv`` (Master.csv: 16 columns, then
``uniqueid`` with ``loguniqueid``, ``userfield`` with ``loguserfield``, and ``peeraccount,
linkedid, sequence`` with ``newcdrcolumns``, each option on its own: 16, 17, 18, 20 or 21
columns; a 17th column shaped like a uniqueid is one, else it is the userfield) and ``cdr_custom``,
whose stock mapping (``cdr_custom.conf.sample``) also writes a Master.csv, of 19 columns,
``clid`` first. A file with a header row naming the columns is read in any order.
docs/formats.md lists every layout column by column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.ingest.adapters.common import LONGEST_S, YEARS, free_text, not_utf8, undecodable

#: What every layout has, in this order: the leg's channels, application, times, outcome.
_LEG = (
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
CDR_CSV_16: tuple[str, ...] = ("accountcode", "src", "dst", "dcontext", "clid", *_LEG)
CDR_CSV_18 = (*CDR_CSV_16, "uniqueid", "userfield")
CDR_CSV_21 = (*CDR_CSV_18, "peeraccount", "linkedid", "sequence")
#: ``loguniqueid`` without ``loguserfield`` (or the reverse), with or without newcdrcolumns.
CDR_CSV_17 = (*CDR_CSV_16, "uniqueid")
CDR_CSV_17_USERFIELD = (*CDR_CSV_16, "userfield")
CDR_CSV_20 = (*CDR_CSV_17, "peeraccount", "linkedid", "sequence")
CDR_CSV_20_USERFIELD = (*CDR_CSV_17_USERFIELD, "peeraccount", "linkedid", "sequence")
#: An Asterisk uniqueid: ``<epoch>.<n>``, after ``<systemname>-`` when one is set.
_UNIQUEID = re.compile(r"(?:.+-)?[0-9]{9,}\.[0-9]+")
#: cdr_custom.conf.sample's Master.csv mapping (Asterisk 1.6 onwards).
CDR_CUSTOM_19: tuple[str, ...] = (
    *("clid", "src", "dst", "dcontext", *_LEG),
    *("accountcode", "uniqueid", "userfield", "sequence"),
)
#: Column count -> layout, for files without a header row.
LAYOUTS: dict[int, tuple[str, ...]] = {
    len(c): c for c in (CDR_CSV_16, CDR_CSV_17, CDR_CSV_18, CDR_CUSTOM_19, CDR_CSV_20, CDR_CSV_21)
}
#: The other reading of a column count, when the 17th column is no uniqueid.
_USERFIELD_LAYOUTS = {17: CDR_CSV_17_USERFIELD, 20: CDR_CSV_20_USERFIELD}
#: Every CDR field a header row may name, and the ones a call needs.
KNOWN_COLUMNS = frozenset(CDR_CSV_21)
REQUIRED_COLUMNS = frozenset(CDR_CSV_16) - {"accountcode", "amaflags"}
#: Columns of free text: bytes that are not UTF-8 in them are replaced, the row is read.
FREE_TEXT = frozenset({"clid", "lastdata", "userfield", "accountcode", "peeraccount"})
DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
#: ``lastapp`` of a dialled channel's own row: it ran no dialplan of its own.
DIALLED_APPS = frozenset({"appdial", "appdial2"})
#: Whole or fractional (cdr_custom's ``,f``) seconds in ASCII digits: ``float`` would also
#: take ``1e15``, ``nan``, ``1_0`` and digits of other scripts.
_SECONDS = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")
#: Asterisk's ``sequence`` is a C int: ``isdigit`` would also take ``²``.
_SEQUENCE = re.compile(r"-?[0-9]{1,10}")
LAYOUT_HELP = (
    "Asterisk CDR layouts read: cdr_csv Master.csv (16, 17, 18, 20 or 21 columns), cdr_custom's "
    "stock Master.csv mapping (19 columns, clid first), or any layout whose first row is a "
    "header naming the columns; docs/formats.md lists the columns of each"
)


class RowError(ValueError):
    """A CDR row that cannot be read; the message names the column."""


@dataclass
class Leg:
    """One CDR row: a leg of a call, with times in UTC.

    ``answer`` and ``end`` are derived from ``duration`` and ``billsec`` (docs/formats.md:
    wait = duration - billsec, talk = billsec); ``answer`` is None for a leg not answered.
    """

    line: int
    source: str
    row: dict[str, str]
    start: datetime
    answer: datetime | None
    end: datetime
    sequence: int

    @property
    def app(self) -> str:
        return self.row["lastapp"].lower()

    @property
    def caller_side(self) -> bool:
        """A leg of the caller (or of a phone it was put through to), not a Local-channel
        half or a dialled channel's own row."""
        return local_base(self.row["channel"]) is None and self.app not in DIALLED_APPS

    @property
    def picked_up(self) -> bool:
        """Answered by what it dialled (a phone), not by the system or voicemail."""
        if self.answer is None or self.app == "voicemail":
            return False
        return bool(self.row["dstchannel"]) or self.app in DIALLED_APPS


def row_layout(cells: list[str]) -> tuple[str, ...] | None:
    """The layout of a row without a header, by its column count (None: none we read); 17
    and 20 columns name their 17th column by its shape (a uniqueid, else the userfield)."""
    layout = LAYOUTS.get(len(cells))
    if len(cells) in _USERFIELD_LAYOUTS and not _UNIQUEID.fullmatch(cells[16].strip()):
        return _USERFIELD_LAYOUTS[len(cells)]
    return layout


def header_layout(cells: list[str]) -> tuple[str, ...] | None:
    """The layout a header row names, or None when the row is not a header."""
    names = tuple(c.strip().lower() for c in cells)
    if set(names) <= KNOWN_COLUMNS and REQUIRED_COLUMNS <= set(names):
        return names
    return None


def read_leg(line: int, cells: list[str], layout: tuple[str, ...], zone: ZoneInfo) -> Leg:
    """One row as a leg; ``RowError`` names the first column that cannot be read."""
    row: dict[str, str] = {}
    for name, cell in zip(layout, cells, strict=True):
        value = cell.strip()
        if undecodable(value):
            if name not in FREE_TEXT:
                raise RowError(not_utf8(f"column '{name}'"))
            value = free_text(value)
        row[name] = value
    disposition = row["disposition"].upper()
    if disposition not in DISPOSITIONS:
        raise RowError(f"column 'disposition' is not one of {', '.join(sorted(DISPOSITIONS))}")
    row["disposition"] = disposition
    start = _time(row, "start", zone)
    end = _time(row, "end", zone)
    answered_at = _time(row, "answer", zone) if row["answer"] else None
    assert start is not None and end is not None
    duration = _seconds(row, "duration")
    billsec = _seconds(row, "billsec")
    finish = start + timedelta(seconds=duration) if duration is not None else end
    answer = None
    if disposition == "ANSWERED" and answered_at is not None:
        answer = (
            max(start, finish - timedelta(seconds=billsec)) if billsec is not None else answered_at
        )
    return Leg(line, ",".join(cells), row, start, answer, finish, _sequence(row))


def _time(row: dict[str, str], name: str, zone: ZoneInfo) -> datetime:
    value = row[name]
    if not value:
        raise RowError(f"column '{name}' is empty")
    try:
        # The one layout Asterisk writes ("%Y-%m-%d %T"); fromisoformat is ~10x strptime.
        if len(value) != len("2026-08-03 08:30:00") or value[10] != " ":
            raise ValueError(value)
        local = datetime.fromisoformat(value)
        if local.tzinfo is not None:
            raise ValueError(value)
    except ValueError:
        raise RowError(f"column '{name}' is not a time like 2026-08-03 08:30:00") from None
    if local.year not in YEARS:
        raise RowError(
            f"column '{name}' is not a time a call can have (years {YEARS[0]} to {YEARS[-1]})"
        )
    return local.replace(tzinfo=zone).astimezone(UTC)


def _seconds(row: dict[str, str], name: str) -> float | None:
    """``duration`` / ``billsec``: whole seconds, or fractional (cdr_custom's ``,f``), checked
    before any time arithmetic so that a corrupt counter costs its row, not the file."""
    value = row[name]
    if not value:
        return None
    if not _SECONDS.fullmatch(value) or float(value) > LONGEST_S:
        raise RowError(f"column '{name}' is not a number of seconds a call can take")
    return float(value)


def _sequence(row: dict[str, str]) -> int:
    """``sequence`` (21 and 19 columns; 0 when absent or empty): only orders legs that
    started in the same second."""
    value = row.get("sequence", "")
    if not value:
        return 0
    if not _SEQUENCE.fullmatch(value):
        raise RowError("column 'sequence' is not a whole number")
    return int(value)


def local_base(channel: str) -> str | None:
    """``Local/201@from-queue-0000001a`` for either half (``;1``, ``;2``) of a Local
    channel; None for any other channel."""
    if not channel.startswith("Local/"):
        return None
    return channel.rsplit(";", 1)[0]


def channel_extension(channel: str) -> str:
    """The extension or peer a channel name is for: ``PJSIP/201-00000002`` -> ``201``,
    ``Local/201@from-queue-0000001a;2`` -> ``201``; '' when there is none."""
    if "/" not in channel:
        return ""
    name = channel.split("/", 1)[1]
    if channel.startswith("Local/"):
        return name.split("@", 1)[0]
    return name.rsplit("-", 1)[0] if "-" in name else name


def dial_targets(lastdata: str) -> list[str]:
    """What a ``Dial`` leg dialled: ``PJSIP/201&PJSIP/202,30,tT`` -> both channels."""
    return [t.strip() for t in lastdata.split(",", 1)[0].split("&") if t.strip()]


def dialled_number(target: str) -> str:
    """The number or extension of a dial target: ``PJSIP/111@trunk``, ``SIP/trunk/111``
    and ``Local/111@from-internal`` all dial 111."""
    return target.rsplit("/", 1)[-1].split("@", 1)[0].strip()
