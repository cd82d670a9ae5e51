"""Asterisk ``cdr_csv`` Master.csv to canonical v1 events.

A CDR row is one leg of a call, written when the leg ends. Rows of one call are grouped by
``linkedid`` (21-column files) or ``uniqueid`` (18 columns); a 16-column file has no call id,
so each row is a call. Times in Master.csv are the server's local time with no zone: they
are read in ``timezone`` (default Europe/London) and converted to UTC. A CDR knows less than
a queue_log (no separate queue wait); docs/formats.md lists the mapping and its limits.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.ingest.adapters.common import (
    AdapterLine,
    Tally,
    TeamRoles,
    build_event,
    caller_or_withheld,
    make_event_id,
    require_practice,
    source_digest,
)

FORMAT = "asterisk-cdr"

COLUMNS_16: tuple[str, ...] = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
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
COLUMNS_18 = (*COLUMNS_16, "uniqueid", "userfield")
COLUMNS_21 = (*COLUMNS_18, "peeraccount", "linkedid", "sequence")
_LAYOUTS = {len(c): c for c in (COLUMNS_16, COLUMNS_18, COLUMNS_21)}

DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
#: Dialplan contexts whose calls come from the practice's own phones: not inbound calls.
DEFAULT_OUTBOUND_CONTEXTS = ("from-internal",)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class _Leg:
    line: int
    source: str
    row: dict[str, str]
    start: datetime
    answer: datetime | None
    end: datetime
    sequence: int


@dataclass
class _Call:
    call_id: str
    legs: list[_Leg] = field(default_factory=list)
    last_end: datetime | None = None


def read_asterisk_cdr(
    lines: Iterable[str],
    practice: str | None,
    rules: TeamRoles,
    *,
    timezone: str = "Europe/London",
    outbound_contexts: Iterable[str] = DEFAULT_OUTBOUND_CONTEXTS,
    tally: Tally | None = None,
    grace_s: float = 3600.0,
) -> Iterator[AdapterLine]:
    """Canonical events (or per-row errors) from the lines of a Master.csv.

    A call's legs are held until a row ends ``grace_s`` after the call's last leg ended (rows
    are written as legs end), or the file ends.
    """
    ods = require_practice(practice, FORMAT)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--timezone {timezone!r} is not a known time zone") from None
    reader = _Reader(
        ods,
        rules,
        zone,
        frozenset(outbound_contexts),
        tally if tally is not None else Counter(),
        grace_s,
    )
    return reader.run(lines)


class RowError(ValueError):
    """A Master.csv row that cannot be read; the message names the column."""


class _Reader:
    def __init__(
        self,
        practice: str,
        rules: TeamRoles,
        zone: ZoneInfo,
        outbound_contexts: frozenset[str],
        tally: Tally,
        grace_s: float,
    ) -> None:
        self.practice = practice
        self.rules = rules
        self.zone = zone
        self.outbound_contexts = outbound_contexts
        self.tally = tally
        self.grace_s = grace_s
        self.calls: dict[str, _Call] = {}

    def run(self, lines: Iterable[str]) -> Iterator[AdapterLine]:
        reader = csv.reader(iter(lines))
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                self.tally["skipped: blank row"] += 1
                continue
            if cells[0].strip().lower() == "accountcode" and cells[1].strip().lower() == "src":
                self.tally["skipped: header row"] += 1
                continue
            try:
                leg = self._leg(line, cells)
            except RowError as exc:
                yield AdapterLine(line, error=str(exc))
                continue
            yield from self._expire(leg.end)
            call_id = self._call_id(leg)
            call = self.calls.setdefault(call_id, _Call(call_id))
            call.legs.append(leg)
            call.last_end = max(call.last_end or leg.end, leg.end)
        for call in list(self.calls.values()):
            yield from self._flush(call)

    def _leg(self, line: int, cells: list[str]) -> _Leg:
        layout = _LAYOUTS.get(len(cells))
        if layout is None:
            raise RowError(f"expected 16, 18 or 21 columns, got {len(cells)}")
        row = {name: cell.strip() for name, cell in zip(layout, cells, strict=True)}
        disposition = row["disposition"].upper()
        if disposition not in DISPOSITIONS:
            raise RowError(f"column 'disposition' is not one of {', '.join(sorted(DISPOSITIONS))}")
        row["disposition"] = disposition
        start = self._time(row, "start", required=True)
        end = self._time(row, "end", required=True)
        answer = self._time(row, "answer", required=False)
        assert start is not None and end is not None
        sequence = row.get("sequence", "")
        return _Leg(
            line,
            ",".join(cells),
            row,
            start,
            answer,
            end,
            int(sequence) if sequence.isdigit() else 0,
        )

    def _time(self, row: dict[str, str], name: str, *, required: bool) -> datetime | None:
        value = row[name]
        if not value:
            if required:
                raise RowError(f"column '{name}' is empty")
            return None
        try:
            local = datetime.strptime(value, _TIME_FORMAT)
        except ValueError:
            raise RowError(f"column '{name}' is not a time like 2026-08-03 08:30:00") from None
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def _call_id(self, leg: _Leg) -> str:
        call_id = leg.row.get("linkedid") or leg.row.get("uniqueid")
        if call_id:
            return call_id
        self.tally["rows without linkedid/uniqueid (each row is a call)"] += 1
        return f"cdr-{source_digest(leg.source)}"

    def _expire(self, now: datetime) -> Iterator[AdapterLine]:
        done = [
            c
            for c in self.calls.values()
            if c.last_end is not None and (now - c.last_end).total_seconds() > self.grace_s
        ]
        for call in done:
            yield from self._flush(call)

    def _flush(self, call: _Call) -> Iterator[AdapterLine]:
        del self.calls[call.call_id]
        for line, fields, source in _call_events(call, self):
            fields.update(practice=self.practice, call_id=call.call_id)
            fields["event_id"] = make_event_id(call.call_id, source, fields["type"])
            yield build_event(line, fields)

    def team(self, team: str) -> dict[str, str]:
        return {"team": team, "role": self.rules.role_for_team(team)}


def _clid_number(clid: str) -> str:
    """The number in a caller id like ``"A Patient" <07700900123>`` (empty if none)."""
    start, end = clid.rfind("<"), clid.rfind(">")
    return clid[start + 1 : end].strip() if 0 <= start < end else ""


def _call_events(call: _Call, reader: _Reader) -> Iterator[tuple[int, dict[str, Any], str]]:
    """The events of one call from its legs, in leg order."""
    legs = sorted(call.legs, key=lambda leg: (leg.start, leg.sequence, leg.line))
    first = legs[0]
    inbound = first.row["dcontext"] not in reader.outbound_contexts
    yield (
        first.line,
        {
            "type": "call_started",
            "at": first.start,
            "caller": caller_or_withheld(first.row["src"] or _clid_number(first.row["clid"])),
            "direction": "inbound" if inbound else "outbound",
        },
        first.source,
    )
    last = max(legs, key=lambda leg: (leg.end, leg.line))
    if not inbound:
        # The far end of an outbound call is a patient's number: it must not become a team.
        yield last.line, {"type": "call_ended", "at": last.end}, last.source
        return
    first_team: str | None = None
    for leg in legs:
        app = leg.row["lastapp"].lower()
        answered = leg.row["disposition"] == "ANSWERED" and leg.answer is not None
        reader.tally[f"legs {leg.row['disposition']}"] += 1
        if app == "queue":
            queue = leg.row["lastdata"].split(",")[0] or leg.row["dst"]
            yield leg.line, {"type": "queue_joined", "at": leg.start, "queue": queue}, leg.source
            team = queue
        else:
            team = leg.row["dst"]
        if app == "voicemail":
            at = leg.answer or leg.start
            yield leg.line, {"type": "voicemail", "at": at}, leg.source
            continue
        if not leg.row["dstchannel"]:
            continue  # the caller was in the IVR or a queue: nobody's phone rang
        if app != "queue":
            yield leg.line, {"type": "ringing", "at": leg.start, **reader.team(team)}, leg.source
        if not answered:
            continue
        assert leg.answer is not None
        if first_team is None:
            first_team = team
            kind = "answered"
        elif team != first_team:
            kind = "transferred"
        else:
            continue
        yield leg.line, {"type": kind, "at": leg.answer, **reader.team(team)}, leg.source
    yield last.line, {"type": "call_ended", "at": last.end}, last.source
