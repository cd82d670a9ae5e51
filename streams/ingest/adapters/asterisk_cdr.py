"""Asterisk CDR files (cdr_csv's Master.csv, cdr_custom's stock layout) to canonical v1 events.

A CDR row is one leg of a call, written when the leg ends (``asterisk_cdr_rows`` reads the
layouts). Legs are grouped into calls: by ``linkedid`` (21 columns), else by ``uniqueid``,
with the halves of a Local channel (queue members, ring groups, follow-me) joined to the leg
that dialled them; legs that belong to no caller's leg (a Local half or an originate row on
its own) are counted, never a call of their own. The caller's legs make the events; a Local
half tells who picked up and when. Times are the server's local time with no zone: they are
read in ``timezone`` (default Europe/London) and converted to UTC. docs/formats.md lists
the mapping and its limits.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core.phone_numbers import UNKNOWN_TEAM, looks_like_phone_number
from streams.core.rules import Rules
from streams.ingest.adapters.asterisk_cdr_rows import (
    LAYOUT_HELP,
    LAYOUTS,
    Leg,
    RowError,
    channel_extension,
    dial_targets,
    dialled_number,
    header_layout,
    local_base,
    read_leg,
    row_layout,
)
from streams.ingest.adapters.common import (
    CALL_GRACE_S,
    ROW_FAULTS,
    AdapterLine,
    Tally,
    build_event,
    caller_or_withheld,
    csv_fault,
    csv_records,
    make_event_id,
    require_practice,
    source_digest,
    unreadable,
)

FORMAT = "asterisk-cdr"
#: Why a call's wait and talk are null (counted, and logged as a warning).
UNTIMED = "wait and talk unknown: answered, but the CDR has no time for the pickup"
#: A caller-side leg answered this soon after it started was answered by the system (an IVR's
#: Answer(), 0-2 s after the channel came up: Asterisk 12+ keeps that answer on the rows of
#: the dials that follow), not by a person picking up a phone that had to ring first.
SYSTEM_ANSWER = timedelta(seconds=2)


def read_asterisk_cdr(
    lines: Iterable[str],
    practice: str | None,
    rules: Rules,
    *,
    timezone: str = "Europe/London",
    tally: Tally | None = None,
    grace_s: float = CALL_GRACE_S,
) -> Iterator[AdapterLine]:
    """Canonical events (or per-row errors) from the lines of a CDR file.

    A call's legs are held until a row ends ``grace_s`` after the call's last leg ended (rows
    are written as legs end), or the file ends. Raises ``ValueError`` when the first row is
    in no layout we read (one message for the file, not one per row).
    """
    ods = require_practice(practice, FORMAT)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{timezone!r} is not a known time zone (CALLSTREAM_CDR_TIMEZONE, e.g. Europe/London)"
        ) from None
    reader = _Reader(ods, rules, zone, tally if tally is not None else Counter(), grace_s)
    return reader.run(lines)


@dataclass(eq=False)
class _Call:
    """Legs held together: they share a call id or a Local channel."""

    last_end: datetime
    legs: list[Leg] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


class _Reader:
    def __init__(
        self, practice: str, rules: Rules, zone: ZoneInfo, tally: Tally, grace_s: float
    ) -> None:
        self.practice = practice
        self.rules = rules
        self.zone = zone
        self.tally = tally
        self.grace_s = grace_s
        self.by_key: dict[str, _Call] = {}
        self.open: dict[int, _Call] = {}
        # (last end, tie-breaker, call) per change of a call's last end; stale ones skipped
        self.ends: list[tuple[datetime, int, _Call]] = []
        self.tick = itertools.count()

    def run(self, lines: Iterable[str]) -> Iterator[AdapterLine]:
        """Rows to legs to calls; a row that cannot be read is an error of its own line and
        the reader goes on (also after the csv module refuses a row)."""
        header: tuple[str, ...] | None = None
        first = True
        for record in csv_records(lines):
            line, cells = record.line, record.cells
            if cells is None:
                yield AdapterLine(line, error=csv_fault(record, header, LAYOUTS))
                continue
            if not any(c.strip() for c in cells):
                self.tally["skipped: blank row"] += 1
                continue
            if first:
                first = False
                header = header_layout(cells)
                if header is not None:
                    self.tally["skipped: header row"] += 1
                    continue
                if len(cells) not in LAYOUTS:
                    raise ValueError(
                        f"{FORMAT}: line {line} has {len(cells)} columns, a layout we do not "
                        f"read. {LAYOUT_HELP}"
                    )
            try:
                leg = read_leg(line, cells, self._layout(cells, header), self.zone)
            except RowError as exc:
                yield AdapterLine(line, error=str(exc))
                continue
            except ROW_FAULTS as exc:  # a fault no check foresaw: still this row's alone
                yield AdapterLine(line, error=unreadable("the row", exc))
                continue
            yield from self._expire(leg.end)
            self._hold(leg)
        for call in list(self.open.values()):
            yield from self._flush(call)

    def _layout(self, cells: list[str], header: tuple[str, ...] | None) -> tuple[str, ...]:
        layout = header or row_layout(cells)
        if layout is None or len(layout) != len(cells):
            expected = len(header) if header else "16, 17, 18, 19, 20 or 21"
            raise RowError(f"expected {expected} columns, got {len(cells)}")
        return layout

    def _hold(self, leg: Leg) -> None:
        """Add a leg to the call it shares a key with, joining calls the leg links."""
        keys = _keys(leg)
        found = list({id(c): c for k in keys if (c := self.by_key.get(k))}.values())
        call = found[0] if found else _Call(leg.end)
        for other in found[1:]:
            call.legs.extend(other.legs)
            call.keys |= other.keys
            call.last_end = max(call.last_end, other.last_end)
            del self.open[id(other)]
        call.legs.append(leg)
        call.keys |= keys
        call.last_end = max(call.last_end, leg.end)
        for key in call.keys:
            self.by_key[key] = call
        self.open[id(call)] = call
        heapq.heappush(self.ends, (call.last_end, next(self.tick), call))

    def _expire(self, now: datetime) -> Iterator[AdapterLine]:
        """Flush the calls whose last leg ended more than the grace before ``now``."""
        while self.ends and (now - self.ends[0][0]).total_seconds() > self.grace_s:
            last_end, _, call = heapq.heappop(self.ends)
            if self.open.get(id(call)) is call and call.last_end == last_end:
                yield from self._flush(call)

    def _flush(self, call: _Call) -> Iterator[AdapterLine]:
        """The call's events, made in full before any is given: a fault no check foresaw
        costs this call (reported on its first row) and leaves the other calls alone."""
        del self.open[id(call)]
        for key in call.keys:
            self.by_key.pop(key, None)
        try:
            items = list(self._events(call))
        except ROW_FAULTS as exc:
            line = min(leg.line for leg in call.legs)
            items = [AdapterLine(line, error=unreadable("the call starting on this row", exc))]
        yield from items

    def _events(self, call: _Call) -> Iterator[AdapterLine]:
        legs = sorted(call.legs, key=lambda leg: (leg.start, leg.sequence, leg.line))
        main = [leg for leg in legs if leg.caller_side]
        if not main:
            self.tally["skipped: Local-channel halves and dialled-channel rows of no call"] += len(
                legs
            )
            return
        members = [leg for leg in legs if not leg.caller_side]
        if members:
            self.tally["Local-channel halves and dialled-channel rows read with their call"] += len(
                members
            )
        first = main[0]
        call_id = first.row.get("linkedid") or first.row.get("uniqueid")
        if not call_id:
            self.tally["rows without linkedid/uniqueid (each row is a call)"] += 1
            call_id = f"cdr-{source_digest(first.source)}"
        events = _CallEvents(self, main, members)
        for line, fields, source in events.all():
            fields.update(practice=self.practice, call_id=call_id)
            fields["event_id"] = make_event_id(call_id, source, fields["type"])
            yield build_event(line, fields)


def _keys(leg: Leg) -> set[str]:
    """What joins legs into a call: the call id, and each Local channel the leg is or dialled."""
    keys = set()
    call_id = leg.row.get("linkedid") or leg.row.get("uniqueid")
    if call_id:
        keys.add(f"id:{call_id}")
    for channel in (leg.row["channel"], leg.row["dstchannel"]):
        base = local_base(channel)
        if base:
            keys.add(f"local:{base}")
    return keys


def _clid_number(clid: str) -> str:
    """The number in a caller id like ``"A Patient" <07700900123>`` (empty if none)."""
    start, end = clid.rfind("<"), clid.rfind(">")
    return clid[start + 1 : end].strip() if 0 <= start < end else ""


class _CallEvents:
    """The events of one call: its caller-side legs in start order, helped by its members
    (Local-channel halves and dialled channels' own rows) for who picked up and when."""

    def __init__(self, reader: _Reader, main: list[Leg], members: list[Leg]) -> None:
        self.rules = reader.rules
        self.tally = reader.tally
        self.main = main
        self.members = members
        self.end = max(main + members, key=lambda leg: (leg.end, leg.line))

    def all(self) -> Iterator[tuple[int, dict[str, Any], str]]:
        first = self.main[0]
        caller = first.row["src"] or _clid_number(first.row["clid"])
        inbound = not self._placed_by_practice(first, caller)
        started = {
            "type": "call_started",
            "at": first.start,
            "caller": caller_or_withheld(caller),
            "direction": "inbound" if inbound else "outbound",
        }
        yield first.line, started, first.source
        if inbound:
            yield from self._inbound()
        else:
            # The far end of an outbound call is a patient's number: it must not become a team.
            self.tally["outbound calls"] += 1
        yield self.end.line, {"type": "call_ended", "at": self.end.end}, self.end.source

    def _placed_by_practice(self, first: Leg, caller: str) -> bool:
        """Outbound: run in an outbound context, or placed on one of the practice's phones
        (its caller is an extension, or its channel is and it dialled out to a number)."""
        if first.row["dcontext"] in self.rules.phone_system.asterisk_outbound_contexts:
            return True
        if self.rules.is_extension(caller):
            return True
        dialled_out = first.app == "dial" and any(
            looks_like_phone_number(t) for t in dial_targets(first.row["lastdata"])
        )
        return dialled_out and self.rules.is_extension(channel_extension(first.row["channel"]))

    def _inbound(self) -> Iterator[tuple[int, dict[str, Any], str]]:
        first_team: str | None = None
        for leg in self.main:
            self.tally[f"legs {leg.row['disposition']}"] += 1
            queue = None
            if leg.app == "queue":
                queue = leg.row["lastdata"].split(",")[0] or leg.row["dst"]
                yield (
                    leg.line,
                    {"type": "queue_joined", "at": leg.start, "queue": queue},
                    leg.source,
                )
            if leg.app == "voicemail":
                yield leg.line, {"type": "voicemail", "at": leg.answer or leg.start}, leg.source
                continue
            divert = self._divert(leg) if first_team is None and queue is None else None
            if divert is not None:
                self.tally[f"diverted to {divert} (phone_system.divert_numbers)"] += 1
                yield (
                    leg.line,
                    {"type": "ivr_divert", "at": leg.start, "target": divert},
                    leg.source,
                )
                continue
            if not leg.row["dstchannel"]:
                continue  # the caller was in the IVR or a queue: nobody's phone rang
            reached = self._reached(leg)
            pickup = min((m for m in reached if m.picked_up), key=_answer_time, default=None)
            team = self.rules.team_for(queue) if queue else self._person(leg, pickup)
            rang = self._dial_began(leg)
            if queue is None:
                yield leg.line, {"type": "ringing", "at": rang, **self._team(team)}, leg.source
            answer = self._answer(leg, reached, pickup, queue is not None, rang)
            if answer is None:
                continue
            if first_team is None:
                first_team = team
                if answer.get("time_known") is False:
                    self.tally[UNTIMED] += 1
                yield leg.line, {"type": "answered", **answer, **self._team(team)}, leg.source
            elif team != first_team:
                at = answer["at"]
                yield leg.line, {"type": "transferred", "at": at, **self._team(team)}, leg.source

    def _divert(self, leg: Leg) -> str | None:
        """The organisation a ``Dial`` leg sent the caller to (the rules' divert numbers:
        ``PJSIP/111@trunk`` dials 111), or None."""
        if leg.app != "dial":
            return None
        for target in dial_targets(leg.row["lastdata"]):
            divert = self.rules.phone_system.divert_for(dialled_number(target))
            if divert is not None:
                return divert
        return None

    def _reached(self, leg: Leg) -> list[Leg]:
        """The member legs a leg's dstchannel leads to: the other half of a Local channel
        (and what that dialled in turn), or the dialled channel's own row."""
        channels = {leg.row["dstchannel"]}
        bases = {b for b in (local_base(leg.row["dstchannel"]),) if b}
        found: list[Leg] = []
        grew = True
        while grew:
            grew = False
            for member in self.members:
                if member in found:
                    continue
                if member.row["channel"] in channels or local_base(member.row["channel"]) in bases:
                    found.append(member)
                    channels.add(member.row["dstchannel"])
                    bases.update(b for b in (local_base(member.row["dstchannel"]),) if b)
                    grew = True
        return found

    def _dial_began(self, leg: Leg) -> datetime:
        """When the leg's phones began to ring. Asterisk 12+ starts a channel's first row when
        the channel comes up (before any IVR) and each further device of the same Dial when
        the dial begins: the earliest such sibling row (same channel and Dial, started after
        this one and before it ended) says when; else the leg's start."""
        siblings = (
            other.start
            for other in self.main
            if other is not leg
            and other.row["channel"] == leg.row["channel"]
            and other.app == leg.app == "dial"
            and other.row["lastdata"] == leg.row["lastdata"]
            and leg.start < other.start < leg.end
        )
        return min(siblings, default=leg.start)

    def _answer(
        self, leg: Leg, reached: list[Leg], pickup: Leg | None, queue: bool, rang: datetime
    ) -> dict[str, Any] | None:
        """When a person picked up: the member leg's answer, else the leg's own answer if it
        can be the pickup; None when nobody did. A pickup known to have happened at an unknown
        time is ``time_known: false``: on a queue leg (Asterisk answers the caller itself on
        entry), and when the leg's answer came before its phones rang or within
        ``SYSTEM_ANSWER`` of its start (the IVR's answer, which Asterisk 12+ keeps)."""
        if pickup is not None:
            return {"at": _answer_time(pickup)}
        if reached or leg.answer is None:
            return None  # the legs it dialled were not answered: the system answered the caller
        if not queue and leg.answer > max(rang, leg.start + SYSTEM_ANSWER):
            return {"at": leg.answer}
        return {"at": leg.answer, "time_known": False}

    def _person(self, leg: Leg, pickup: Leg | None) -> str:
        """The team of the phone that rang or picked up: its extension through the rules
        (never ``s``, a trunk or a phone number); ``unknown`` when no extension is named."""
        candidates = [channel_extension(leg.row["dstchannel"]), leg.row["dst"]]
        if pickup is not None:
            candidates[:0] = [
                channel_extension(pickup.row["dstchannel"]),
                channel_extension(pickup.row["channel"]),
            ]
        for value in candidates:
            if self.rules.knows_team(value):
                return self.rules.team_for(value)
        return UNKNOWN_TEAM

    def _team(self, team: str) -> dict[str, str]:
        return {"team": team, "role": self.rules.role_for_team(team)}


def _answer_time(leg: Leg) -> datetime:
    assert leg.answer is not None
    return leg.answer
