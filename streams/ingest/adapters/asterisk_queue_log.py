"""Asterisk ``queue_log`` (``epoch|callid|queue|agent|EVENT|data…``) to canonical v1 events.

The queue_log is the record an Asterisk supervisor counts from, so the events are timed to
reproduce its own numbers through docs/classification.md: the queue join is placed
``holdtime`` (CONNECT) or ``waittime`` (ABANDON, EXIT*) before that line, so the wait equals
Asterisk's; the end of an answered call is ``calltime`` (COMPLETE*, TRANSFER) after the
answer, so the talk time equals Asterisk's. Each call's events are held until the call has
ended and no further line for it came within ``CALL_GRACE_S`` (a caller sent on to another
queue, after an announcement, continues the same call); calls still open at the end of the
file stay incomplete. A line for a call already sent is rejected, never a second call.
docs/formats.md lists the mapping verb by verb.

Every number is checked before it is used in time arithmetic, so a bad line is rejected with
an error naming its field; whatever else one line may raise is caught for that line alone.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from streams.core.phone_numbers import UNKNOWN_TEAM
from streams.core.rules import Rules
from streams.ingest.adapters.common import (
    CALL_GRACE_S,
    EPOCH_MAX,
    EPOCH_MIN,
    LONGEST_S,
    ROW_FAULTS,
    YEARS,
    AdapterLine,
    Tally,
    build_event,
    caller_or_withheld,
    make_event_id,
    not_utf8,
    require_practice,
    undecodable,
    unreadable,
    utc_from_epoch,
)

FORMAT = "asterisk-queue-log"

#: Lines about the queue system or its agents, not about a caller's call.
SYSTEM_VERBS = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
        "PAUSEREASON",
        "PENALTY",
        "RINGINUSE",
    }
)
#: Lines about a call that carry nothing the canonical events need.
INFO_VERBS = frozenset({"INFO", "AGENTDUMP", "SYSCOMPAT", "CALLERONHOLD", "HOLD", "UNHOLD"})
#: Call ids that mean "no call" in queue_log.
NO_CALL_IDS = frozenset({"", "NONE", "REALTIME"})
#: Columns read as text (the data columns are read field by field).
_TEXT_COLUMNS = ((1, "callid"), (2, "queue"), (4, "event"))
_NOT_EPOCH = "field 'epoch' (column 1) is not a Unix time in seconds"


class LineError(ValueError):
    """A queue_log line whose fields cannot be read; the message names the field."""


@dataclass
class _Pending:
    """An event waiting for its call to end (its time may still be corrected)."""

    line: int
    source: str
    fields: dict[str, Any]


@dataclass
class _Call:
    call_id: str
    first_at: float | None = None
    events: list[_Pending] = field(default_factory=list)
    started: _Pending | None = None
    queue: str | None = None
    join: _Pending | None = None
    answered: _Pending | None = None
    transfer: _Pending | None = None
    end: _Pending | None = None
    ended_epoch: float | None = None


def read_queue_log(
    lines: Iterable[str],
    practice: str | None,
    rules: Rules,
    *,
    tally: Tally | None = None,
    callback_keys: Iterable[str] = (),
    grace_s: float = CALL_GRACE_S,
) -> Iterator[AdapterLine]:
    """Canonical events (or per-line errors) from the lines of a queue_log.

    ``tally`` (if given) counts lines skipped and times corrected, by reason.
    ``callback_keys``: keys that, pressed in the queue (EXITWITHKEY), request a callback;
    any other key ends the call as missed.
    """
    ods = require_practice(practice, FORMAT)
    reader = _Reader(ods, rules, tally if tally is not None else Counter(), callback_keys, grace_s)
    return reader.run(lines)


class _Reader:
    def __init__(
        self,
        practice: str,
        rules: Rules,
        tally: Tally,
        callback_keys: Iterable[str],
        grace_s: float,
    ) -> None:
        self.practice = practice
        self.rules = rules
        self.tally = tally
        self.callback_keys = frozenset(callback_keys)
        self.grace_s = grace_s
        self.calls: dict[str, _Call] = {}
        #: Calls already sent, by call id, with the time they ended (oldest first), kept a
        #: day so a late line of one is rejected rather than starting a second call.
        self.sent: OrderedDict[str, float] = OrderedDict()

    def run(self, lines: Iterable[str]) -> Iterator[AdapterLine]:
        for line_no, raw in enumerate(lines, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                self.tally["skipped: blank line"] += 1
                continue
            try:
                line = _parse(line_no, text)
            except LineError as exc:
                yield AdapterLine(line_no, error=str(exc))
                continue
            except ROW_FAULTS as exc:
                yield AdapterLine(line_no, error=unreadable("queue_log line", exc))
                continue
            yield from self._expire(line.epoch)
            error = self._guarded(line)
            if error is not None:
                yield AdapterLine(line_no, error=error)
        for call in list(self.calls.values()):
            if call.end is None:
                self.tally["calls still open at the end of the file (incomplete)"] += 1
            yield from self._flush(call)

    def _guarded(self, line: _Line) -> str | None:
        """Apply one line to its call; the reason it was rejected, or None.

        The fields are checked before use, so ``ROW_FAULTS`` here is a fault no check
        foresaw: it rejects this line (named by its verb, a known one) and the file goes on.
        """
        try:
            self._apply(line)
        except LineError as exc:
            return str(exc)
        except ROW_FAULTS as exc:
            what = f"{line.verb} line" if line.verb in _HANDLERS else "queue_log line"
            return unreadable(what, exc)
        return None

    def _apply(self, line: _Line) -> None:
        if line.call_id.upper() in NO_CALL_IDS or line.verb in SYSTEM_VERBS:
            self.tally[f"skipped: {line.verb or 'empty event'} (system line)"] += 1
            return
        handler = _HANDLERS.get(line.verb)
        if handler is None:
            if line.verb in INFO_VERBS:
                self.tally[f"skipped: {line.verb} (no call event)"] += 1
            else:
                self.tally[f"skipped: unknown verb {line.verb}"] += 1
            return
        call = self.calls.get(line.call_id)
        if call is None and line.call_id in self.sent:
            raise LineError(
                f"{line.verb}: call '{line.call_id}' ended more than {self.grace_s:.0f} s "
                "before this line and was already sent: a line this late cannot join it"
            )
        if call is None:
            call = _Call(line.call_id)
        handler(self, call, line)
        self.calls[line.call_id] = call  # only once a line of it was read without error

    def _expire(self, epoch: float) -> Iterator[AdapterLine]:
        """Flush calls that ended more than the grace before this line's time."""
        done = [
            c
            for c in self.calls.values()
            if c.ended_epoch is not None and epoch - c.ended_epoch > self.grace_s
        ]
        for call in done:
            yield from self._flush(call)

    def _flush(self, call: _Call) -> Iterator[AdapterLine]:
        """The call's events; a line whose events fail alike is reported once."""
        del self.calls[call.call_id]
        if call.ended_epoch is not None:
            self.sent[call.call_id] = call.ended_epoch
            while self.sent and call.ended_epoch - next(iter(self.sent.values())) > LONGEST_S:
                self.sent.popitem(last=False)
        reported: set[tuple[int, str]] = set()
        for pending in call.events:
            item = self._event(call, pending)
            if item.error is not None:
                if (item.line, item.error) in reported:
                    continue
                reported.add((item.line, item.error))
            yield item

    def _event(self, call: _Call, pending: _Pending) -> AdapterLine:
        """One validated event; a fault no check foresaw rejects it, not the file."""
        try:
            fields = dict(pending.fields)
            fields["practice"] = self.practice
            fields["call_id"] = call.call_id
            fields["event_id"] = make_event_id(call.call_id, pending.source, fields["type"])
            return build_event(pending.line, fields)
        except ROW_FAULTS as exc:
            return AdapterLine(
                pending.line, error=unreadable(f"{pending.fields['type']} event", exc)
            )

    # --- helpers used by the verb handlers ---

    def add(self, call: _Call, line: _Line, event_type: str, at: float, **fields: Any) -> _Pending:
        pending = _Pending(line.no, line.text, {"type": event_type, "at": utc_from_epoch(at)})
        pending.fields.update(fields)
        call.events.append(pending)
        return pending

    def team_fields(self, value: str) -> dict[str, str]:
        """The team a queue or extension stands for (never a phone number) and its role."""
        team = self.rules.team_for(value)
        return {"team": team, "role": self.rules.role_for_team(team)}

    def place_join(self, call: _Call, line: _Line, seconds: int | None) -> None:
        """Put the queue join ``seconds`` before this line, so the wait is Asterisk's."""
        if call.join is None or seconds is None:
            return
        at = utc_from_epoch(line.epoch) - timedelta(seconds=seconds)
        if at != call.join.fields["at"]:
            self.tally[f"adjusted: queue join timed from {line.verb} wait"] += 1
            call.join.fields["at"] = at
        if call.started is not None and call.started.fields["at"] > at:
            call.started.fields["at"] = at

    def end_call(self, call: _Call, line: _Line, calltime: int | None) -> None:
        """call_ended: ``calltime`` after the answer when known (talk = Asterisk's)."""
        at = line.epoch
        if call.answered is not None and calltime is not None:
            at = call.answered.fields["at"].timestamp() + calltime
            if at != line.epoch:
                self.tally[f"adjusted: end timed from {line.verb} calltime"] += 1
        call.end = self.add(call, line, "call_ended", at)
        call.ended_epoch = line.epoch

    def reopen(self, call: _Call) -> None:
        """The caller went on to another queue: the earlier exit did not end the call."""
        if call.end is not None:
            call.events.remove(call.end)
            self.tally["queue exit followed by another queue (call continues)"] += 1
        call.end = None
        call.ended_epoch = None


@dataclass(frozen=True)
class _Line:
    no: int
    text: str
    epoch: float
    call_id: str
    queue: str
    verb: str
    data: list[str]
    #: How many data fields precede ``data`` in the line (errors number fields as written).
    skipped: int = 0

    def int_field(
        self, index: int, name: str, *, required: bool = True, milliseconds: bool = False
    ) -> int | None:
        """Data field ``index`` (0-based after EVENT) as whole seconds (or milliseconds),
        at most ``LONGEST_S``: what a time is moved by must fit a call."""
        label = self._label(index, name)
        if index >= len(self.data) or not self.data[index].strip():
            if required:
                raise LineError(f"{label} is missing")
            return None
        try:
            number = int(self.data[index].strip())
        except ValueError:
            raise LineError(f"{label} is not a whole number") from None
        if number < 0:
            raise LineError(f"{label} is negative")
        unit, limit = ("ms", LONGEST_S * 1000) if milliseconds else ("s", LONGEST_S)
        if number > limit:
            raise LineError(f"{label} is more than {limit} {unit} (24 h), longer than any call")
        return number

    def text_field(self, index: int, name: str) -> str:
        """Data field ``index`` as text ('' when absent)."""
        value = self.data[index].strip() if index < len(self.data) else ""
        if undecodable(value):
            raise LineError(not_utf8(self._label(index, name)))
        return value

    def _label(self, index: int, name: str) -> str:
        return f"{self.verb}: field '{name}' (data{index + self.skipped + 1})"


def _parse(line_no: int, text: str) -> _Line:
    """The columns of one line, its epoch checked; the data fields are read by the handler."""
    parts = text.split("|")
    if len(parts) < 5:
        raise LineError(f"expected epoch|callid|queue|agent|EVENT|data…, got {len(parts)} field(s)")
    epoch = _epoch(parts[0])
    for index, name in _TEXT_COLUMNS:
        if undecodable(parts[index]):
            raise LineError(not_utf8(f"field '{name}' (column {index + 1})"))
    return _Line(
        no=line_no,
        text=text,
        epoch=epoch,
        call_id=parts[1].strip(),
        queue=parts[2].strip(),
        verb=parts[4].strip().upper(),
        data=parts[5:],
    )


def _epoch(value: str) -> float:
    """Column 1 as Unix seconds within ``EPOCH_MIN``..``EPOCH_MAX``; a millisecond epoch (a
    common misconfiguration) is named as such."""
    try:
        epoch = float(value.strip().lstrip("\ufeff"))
    except ValueError:
        raise LineError(_NOT_EPOCH) from None
    if EPOCH_MIN <= epoch < EPOCH_MAX:
        return epoch
    if EPOCH_MIN <= epoch / 1000 < EPOCH_MAX:
        raise LineError("field 'epoch' (column 1) is in milliseconds, not a Unix time in seconds")
    if math.isfinite(epoch):
        raise LineError(f"{_NOT_EPOCH} between the years {YEARS[0]} and {YEARS[-1] + 1}")
    raise LineError(_NOT_EPOCH)


# --- verb handlers: (reader, call, line) -> None, adding pending events to the call ---


def _did(reader: _Reader, call: _Call, line: _Line) -> None:
    # The number dialled, logged as the call arrives: the earliest time we know of.
    if call.first_at is None:
        call.first_at = line.epoch


def _enterqueue(reader: _Reader, call: _Call, line: _Line) -> None:
    if not line.queue or line.queue.upper() == "NONE":
        raise LineError("ENTERQUEUE: field 'queue' (column 3) is empty")
    # 1.4 logs url|callerid, newer ones url|callerid|position: the caller is data2. Read
    # before the call is changed, so a rejected line leaves it as it was.
    callerid = line.text_field(1, "callerid") if call.started is None else ""
    reader.reopen(call)
    if call.started is None:
        at = min(call.first_at, line.epoch) if call.first_at is not None else line.epoch
        call.started = reader.add(
            call, line, "call_started", at, caller=caller_or_withheld(callerid)
        )
    call.join = reader.add(call, line, "queue_joined", line.epoch, queue=line.queue)
    call.queue = line.queue
    call.answered = None
    if call.transfer is not None:
        call.transfer.fields.update(reader.team_fields(line.queue))
        call.transfer = None


def _connect(reader: _Reader, call: _Call, line: _Line) -> None:
    holdtime = line.int_field(0, "holdtime")
    team = call.queue or line.queue
    if call.join is None:
        reader.tally["CONNECT without ENTERQUEUE (wait from the answer)"] += 1
    reader.place_join(call, line, holdtime)
    call.answered = reader.add(call, line, "answered", line.epoch, **reader.team_fields(team))


def _ring(reader: _Reader, call: _Call, line: _Line) -> None:
    ring_ms = line.int_field(0, "ringtime", required=False, milliseconds=True) or 0
    team = call.queue or line.queue
    reader.add(call, line, "ringing", line.epoch - ring_ms / 1000, **reader.team_fields(team))


def _complete(reader: _Reader, call: _Call, line: _Line) -> None:
    line.int_field(0, "holdtime", required=False)
    calltime = line.int_field(1, "calltime", required=False)
    if calltime is None:
        reader.tally[f"{line.verb} without calltime (end at the line's time)"] += 1
    reader.end_call(call, line, calltime)


def _transfer(reader: _Reader, call: _Call, line: _Line) -> None:
    # TRANSFER / BLINDTRANSFER: extension|context|holdtime|calltime[|origposition].
    calltime = line.int_field(3, "calltime", required=False)
    extension = line.text_field(0, "extension") or UNKNOWN_TEAM
    _transferred(reader, call, line, extension, calltime)


def _attended_transfer(reader: _Reader, call: _Call, line: _Line) -> None:
    # method|method-data…|holdtime|calltime|origposition: LINK has two channels, so the
    # numbers are read from the right.
    if len(line.data) < 4:
        raise LineError("ATTENDEDTRANSFER: expected method|data|holdtime|calltime|origposition")
    right = replace(line, data=line.data[-3:], skipped=len(line.data) - 3)
    calltime = right.int_field(1, "calltime")
    _transferred(reader, call, line, UNKNOWN_TEAM, calltime)


def _transferred(
    reader: _Reader, call: _Call, line: _Line, team: str, calltime: int | None
) -> None:
    call.transfer = reader.add(call, line, "transferred", line.epoch, **reader.team_fields(team))
    reader.end_call(call, line, calltime)


def _exit(reader: _Reader, call: _Call, line: _Line) -> None:
    # ABANDON / EXITEMPTY / EXITWITHTIMEOUT: position|origposition|waittime (1.4: position).
    waittime = line.int_field(2, "waittime", required=False)
    reader.place_join(call, line, waittime)
    reader.end_call(call, line, None)


def _refused(reader: _Reader, call: _Call, line: _Line) -> None:
    # JOINEMPTY / JOINUNAVAIL / FULL: the queue would not take the caller (no one logged
    # in, no one available, or as many waiting as it holds). They reached it expecting a
    # person and no one answered: a missed call with no wait, ended here unless the
    # dialplan sends them to another queue.
    if not line.queue or line.queue.upper() == "NONE":
        raise LineError(f"{line.verb}: field 'queue' (column 3) is empty")
    reader.reopen(call)
    if call.first_at is None:
        call.first_at = line.epoch  # a later ENTERQUEUE starts the call here
    call.join = reader.add(call, line, "queue_joined", line.epoch, queue=line.queue)
    call.queue = line.queue
    call.answered = None
    reader.end_call(call, line, None)


def _exit_with_key(reader: _Reader, call: _Call, line: _Line) -> None:
    # key|position|origposition|waittime (1.4: key|position).
    key = line.text_field(0, "key")
    waittime = line.int_field(3, "waittime", required=False)
    reader.place_join(call, line, waittime)
    if key in reader.callback_keys:
        reader.add(call, line, "callback_requested", line.epoch)
    else:
        reader.tally["EXITWITHKEY with a key that is not a callback key (missed)"] += 1
    reader.end_call(call, line, None)


_HANDLERS = {
    "DID": _did,
    "ENTERQUEUE": _enterqueue,
    "CONNECT": _connect,
    "RINGNOANSWER": _ring,
    "RINGCANCELED": _ring,
    "COMPLETECALLER": _complete,
    "COMPLETEAGENT": _complete,
    "TRANSFER": _transfer,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _attended_transfer,
    "ABANDON": _exit,
    "EXITEMPTY": _exit,
    "EXITWITHTIMEOUT": _exit,
    "EXITWITHKEY": _exit_with_key,
    "JOINEMPTY": _refused,
    "FULL": _refused,
    "JOINUNAVAIL": _refused,
}
