"""FreeSWITCH JSON CDRs (mod_json_cdr) to canonical v1 events.

One CDR is one call leg: the caller's (a-)leg gives the call; legs FreeSWITCH originated
to phones or callcenter agents (b-legs) are counted and skipped, as the a-leg carries their
times. Values under ``variables`` are URL-encoded (decoded here); times are epochs
(``*_uepoch`` microseconds preferred, else ``*_epoch`` seconds). ``callflow`` may appear more
than once in one object (older mod_json_cdr repeats the key), so objects are parsed keeping
every copy. A file holds one object (pretty-printed or not), several written one after
another (``cat a.json b.json``), a JSON array of objects, or one object per line.
docs/formats.md lists the mapping and its limits.

Every field is checked for its shape and type before use, so a bad record is rejected with
the field's name (never its value) and the rest of the file is still read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from streams.core.repeated_keys import DECODER, Repeated, parse_json
from streams.core.rules import Rules
from streams.ingest.adapters.common import (
    EPOCH_MAX,
    EPOCH_MIN,
    ROW_FAULTS,
    YEARS,
    AdapterLine,
    Tally,
    build_event,
    caller_or_withheld,
    free_text,
    make_event_id,
    not_utf8,
    require_practice,
    undecodable,
    unreadable,
    utc_from_epoch,
)

FORMAT = "freeswitch-json"

#: Variables FreeSWITCH sets on legs it originated (the a-leg holds the call).
_B_LEG_MARKERS = ("originator", "originating_leg_uuid")
#: Variables naming what the call was bridged to, most telling first.
_BRIDGED = ("dialed_user", "dialed_extension", "bridge_channel", "callee_id_number")
#: Variables naming the phone that answered, when they name one of the practice's extensions:
#: they win over ``dialed_user``, which is the *last* user a ring group dialled (mod_dptools
#: sets it for every ``user/`` dialled), whoever answered. A contact user that is no
#: extension (a WebRTC client's random one, a mobile through a gateway) is not used so.
_ANSWERING = ("bridge_channel", "callee_id_number")
#: A bridge to voicemail through a loopback channel (FreeSWITCH's stock Local_Extension:
#: ``bridge loopback/app=voicemail:default ${domain_name} ${dialed_extension}``).
_VOICEMAIL_BRIDGE = re.compile(r"^loopback/app=voicemail\b", re.IGNORECASE)
#: A channel's UUID. FreeSWITCH's uuid_bridge (how mod_callcenter puts a caller through to
#: an agent) adds a callflow to each leg "for CDR's sake" whose destination is the other
#: leg's UUID: a bridge, not a transfer.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
#: A whole number as FreeSWITCH writes one (a string of ASCII digits): ``int`` would also take
#: ``1_0``, spaces and digits of other scripts. 40 digits bound the conversion, yet let a long
#: number in a time field be named as no Unix time rather than as no number.
_WHOLE = re.compile(r"-?[0-9]{1,40}")
#: A hangup cause as FreeSWITCH names one (``NORMAL_CLEARING``); anything else is counted as
#: ``other``, so no stray value (a number) reaches the log.
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
#: JSON whitespace between documents written one after another.
_SPACE = re.compile(r"[ \t\r\n]*")
#: What the json module raises besides ``JSONDecodeError``: a number of more digits than
#: Python converts (``ValueError``), nesting deeper than the interpreter's recursion limit.
_PARSE_FAULTS = (ValueError, RecursionError)


class RecordError(ValueError):
    """A CDR whose fields cannot be read; the message names the field."""


def read_freeswitch_json(
    lines: Iterable[str],
    practice: str | None,
    rules: Rules,
    *,
    tally: Tally | None = None,
) -> Iterator[AdapterLine]:
    """Canonical events (or per-record errors) from a file of FreeSWITCH JSON CDRs."""
    ods = require_practice(practice, FORMAT)
    counts = tally if tally is not None else Counter()
    return _read(lines, ods, rules, counts)


def _read(lines: Iterable[str], practice: str, rules: Rules, tally: Tally) -> Iterator[AdapterLine]:
    for line, record in _records(lines, tally):
        if isinstance(record, str):
            yield AdapterLine(line, error=record)
        else:
            yield from _convert(line, record, practice, rules, tally)


def _convert(
    line: int, record: dict[str, Any], practice: str, rules: Rules, tally: Tally
) -> list[AdapterLine]:
    """The events of one CDR, or one error: ``RecordError`` names the field; ``ROW_FAULTS``
    is a fault no check foresaw, still this record's alone. Nothing is yielded or counted
    before the whole record has been read, so a rejected record leaves no partial call."""
    try:
        record = _readable(record, "")
        counts: Tally = Counter()
        events = list(_events(record, rules, counts))
        source = json.dumps(record, sort_keys=True)
        out = []
        for fields in events:
            fields["practice"] = practice
            fields["event_id"] = make_event_id(fields["call_id"], source, fields["type"])
            out.append(build_event(line, fields))
    except RecordError as exc:
        return [AdapterLine(line, error=str(exc))]
    except ROW_FAULTS as exc:
        return [AdapterLine(line, error=unreadable("the record", exc))]
    tally.update(counts)
    return out


def _records(lines: Iterable[str], tally: Tally) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, object or error) per CDR: one per line, or the documents of the whole file."""
    numbered = enumerate(lines, start=1)
    first_no, first = next(((n, t) for n, t in numbered if t.strip()), (0, ""))
    if not first:
        return
    parsed: Any = None
    error: str | None = None
    try:
        parsed = parse_json(first)
    except json.JSONDecodeError:
        pass  # not a whole value on one line: a pretty-printed document
    except _PARSE_FAULTS as exc:
        # A whole line the json module gave up on: a pretty-printed document does not begin
        # with thousands of digits or brackets, so the file is one object per line.
        error = _not_json(exc)
    if error is not None or isinstance(parsed, dict):
        yield first_no, error if error is not None else parsed
        for no, text in numbered:
            if not text.strip():
                tally["skipped: blank line"] += 1
                continue
            yield no, _object(text)
        return
    document = first + "".join(text for _, text in numbered)
    yield from _documents(document, first_no)


def _documents(document: str, first_no: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Each JSON value of the document in turn (``cat a.json b.json`` writes several). A
    value that cannot be parsed ends the reading: where the next one starts is unknown."""
    pos, line = 0, first_no
    while True:
        start = _SPACE.match(document, pos).end()  # type: ignore[union-attr]
        if start == len(document):
            return
        line += document.count("\n", pos, start)
        try:
            value, end = DECODER.raw_decode(document, start)
        except json.JSONDecodeError as exc:
            yield exc.lineno + first_no - 1, f"not valid JSON: {exc.msg}"
            return
        except _PARSE_FAULTS as exc:
            yield line, _not_json(exc)
            return
        if isinstance(value, dict):
            yield line, value
        elif isinstance(value, list):
            for index, item in enumerate(value, start=1):
                yield index, item if isinstance(item, dict) else f"record {index} is not an object"
        else:
            yield line, "expected a JSON object (or an array of objects)"
        line += document.count("\n", start, end)
        pos = end


def _object(text: str) -> dict[str, Any] | str:
    try:
        value = parse_json(text.strip())
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    except _PARSE_FAULTS as exc:
        return _not_json(exc)
    return value if isinstance(value, dict) else "expected a JSON object"


def _not_json(exc: BaseException) -> str:
    """Why the json module gave up on a value other than a syntax error (its own text may
    quote the number)."""
    if isinstance(exc, RecursionError):
        return "not valid JSON: nested too deeply to read"
    return "not valid JSON: a number too long to read"


def _readable(value: Any, path: str) -> Any:
    """The record with bytes that were not UTF-8 replaced in free text (a ``*_name``: the
    caller's name); ``RecordError`` naming the field when they are anywhere else."""
    if isinstance(value, str) and undecodable(value):
        if path.rsplit(".", 1)[-1].endswith("_name"):
            return free_text(value)
        raise RecordError(not_utf8(f"field '{path}'"))
    if isinstance(value, dict):
        return {k: _readable(v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return type(value)(_readable(v, path) for v in value)
    return value


@dataclass(frozen=True)
class _Flow:
    """One callflow, its objects checked; ``path`` names it in errors (``callflow[1]``)."""

    path: str
    index: int
    profile: dict[str, Any]
    times: dict[str, Any]

    def text(self, name: str) -> str:
        return _text(self.profile.get(name), f"{self.path}.caller_profile.{name}")


def _events(record: dict[str, Any], rules: Rules, tally: Tally) -> Iterator[dict[str, Any]]:
    variables = _variables(record)
    flows = _callflows(record)
    first = flows[0] if flows else None
    if _var(variables, "cc_side") == "agent" or any(m in variables for m in _B_LEG_MARKERS):
        tally["skipped: b-leg (its call is read from the a-leg)"] += 1
        return
    call_id = _var(variables, "uuid") or (first.text("uuid") if first else "")
    if not call_id:
        raise RecordError("field 'variables.uuid' is missing: no call id")
    start = _time(variables, "start", required=True)
    end = _time(variables, "end", required=True)
    assert start is not None and end is not None
    fs_direction = _var(variables, "direction") or _channel_direction(record)
    context = (first.text("context") if first else "") or _var(variables, "context")
    number = _var(variables, "caller_id_number") or (
        first.text("caller_id_number") if first else ""
    )
    # Outbound: FreeSWITCH's own direction, a context of the practice's phones, or a call
    # placed on one of them (its caller is an extension) whatever its context.
    inbound = not (
        fs_direction == "outbound"
        or context in rules.phone_system.freeswitch_outbound_contexts
        or rules.is_extension(number)
    )
    cause = _var(variables, "hangup_cause") or "unknown"
    tally[f"hangup {cause if _CAUSE.fullmatch(cause) or cause == 'unknown' else 'other'}"] += 1

    def event(kind: str, at: float, **fields: Any) -> dict[str, Any]:
        return {"call_id": call_id, "type": kind, "at": utc_from_epoch(at), **fields}

    def team(value: str) -> dict[str, str]:
        name = rules.team_for(value)
        return {"team": name, "role": rules.role_for_team(name)}

    yield event(
        "call_started",
        start,
        caller=caller_or_withheld(number),
        direction="inbound" if inbound else "outbound",
    )
    if not inbound:
        # The far end of an outbound call is a patient's number: it must not become a team.
        yield event("call_ended", end)
        return
    answered_at: float | None = None
    voicemail = _to_voicemail(variables)
    queue = _var(variables, "cc_queue").split("@")[0]
    if queue:
        joined = _time(variables, "cc_queue_joined")
        yield event("queue_joined", joined or start, queue=queue)
        answered_at = _time(variables, "cc_queue_answered")
        if answered_at is not None:
            yield event("answered", answered_at, **team(queue))
    else:
        answer = _person_answered(variables, flows, voicemail, number)
        answered_at = answer.at if answer else None
        progress = _time(variables, "progress")
        if answered_at is not None or progress is not None:
            if answer is not None and answer.flow is not None:
                dialled = answer.flow.text("destination_number")
            else:
                dialled = _bridged_extension(variables, rules, voicemail)
            dialled = dialled or _last_destination(flows)
            rang = progress if progress is not None else start
            divert = None if voicemail else rules.phone_system.divert_for(dialled)
            if divert is not None:
                # A bridge out to another organisation (the rules' divert numbers): no one at
                # the practice answered, whatever the far end did.
                tally[f"diverted to {divert} (phone_system.divert_numbers)"] += 1
                yield event("ivr_divert", rang, target=divert)
                answered_at = None
            else:
                yield event("ringing", rang, **team(dialled))
                if answered_at is not None:
                    yield event("answered", answered_at, **team(dialled))
    if answered_at is not None:
        for at, target in _transfers(flows, answered_at, number):
            yield event("transferred", at, **team(target))
    if voicemail and answered_at is None:
        yield event("voicemail", _voicemail_at(variables, end))
    yield event("call_ended", end)


def _to_voicemail(variables: dict[str, Any]) -> bool:
    """The call ended in voicemail: the voicemail application, or a bridge to it through a
    loopback channel (whose bridge and DIALSTATUS=SUCCESS are not a person answering)."""
    return _var(variables, "last_app").lower() == "voicemail" or _bridged_to_voicemail(variables)


def _bridged_to_voicemail(variables: dict[str, Any]) -> bool:
    """The call's last bridge was to voicemail through a loopback channel."""
    return any(
        _VOICEMAIL_BRIDGE.match(_var(variables, name).strip())
        for name in ("last_arg", "bridge_channel")
    )


@dataclass(frozen=True)
class _Answer:
    """When a person first answered; ``flow``, the callflow whose bridge that was, when the
    call was bridged again later (the variables then name the later party, not this one)."""

    at: float
    flow: _Flow | None = None


def _person_answered(
    variables: dict[str, Any], flows: list[_Flow], voicemail: bool, caller: str
) -> _Answer | None:
    """The first bridge to a person: the earliest callflow ``bridged_time`` (the variables'
    ``bridge_epoch`` is the *last* bridge's: a call answered, then transferred, would be
    answered when the transfer was, or not at all when no one took it), less a final bridge
    to voicemail. Without callflow bridge times: ``bridge_epoch``, else the answer when the
    dial succeeded (an ``answer_epoch`` alone is not a person: the IVR answers calls)."""
    bridges = sorted(
        ((at, flow) for flow in flows if (at := _bridged_at(flow)) is not None),
        key=lambda bridge: bridge[0],
    )
    if bridges:
        people = bridges[:-1] if _bridged_to_voicemail(variables) else bridges
        if not people:
            return None
        at, flow = people[0]
        later = [f for f in flows if f.index > flow.index and not _bridge_profile(f, caller)]
        # A uuid_bridge's own callflow names a UUID: the call was where the one before sent it.
        named = [f for f in flows if f.index <= flow.index and not _bridge_profile(f, caller)]
        return _Answer(at, named[-1] if later and named else None)
    if voicemail:
        return None
    bridged = _time(variables, "bridge")
    if bridged is not None:
        return _Answer(bridged)
    if _var(variables, "DIALSTATUS").upper() == "SUCCESS":
        answered = _time(variables, "answer")
        return _Answer(answered) if answered is not None else None
    return None


def _bridged_at(flow: _Flow) -> float | None:
    """When this callflow was bridged (µs in ``times.bridged_time``; None if it was not)."""
    path = f"{flow.path}.times.bridged_time"
    return _epoch(flow.times.get("bridged_time"), path, per_second=1_000_000)


def _bridged_extension(variables: dict[str, Any], rules: Rules, voicemail: bool = False) -> str:
    """The extension the call was put through to, as FreeSWITCH names it ('' if none): the
    answering phone's (the user in ``bridge_channel`` — ``sofia/internal/1002@host`` — or
    ``callee_id_number``) when it is one of the practice's extensions, else ``dialed_user``,
    ``dialed_extension``, then those two as they are. For a call that went to voicemail,
    the user it rang (its bridge and callee are voicemail's)."""
    if voicemail:
        return _bridged_value(variables, "dialed_user") or _bridged_value(
            variables, "dialed_extension"
        )
    for name in _ANSWERING:
        value = _bridged_value(variables, name)
        if value and rules.is_extension(value):
            return value
    for name in _BRIDGED:
        if value := _bridged_value(variables, name):
            return value
    return ""


def _bridged_value(variables: dict[str, Any], name: str) -> str:
    """One variable of ``_BRIDGED``: ``bridge_channel`` as the user it names ('' for a
    loopback channel: voicemail or another application, not who the call rang)."""
    value = _var(variables, name).strip()
    if name == "bridge_channel":
        if value.lower().startswith("loopback/"):
            return ""
        value = value.rsplit("/", 1)[-1].removeprefix("sip:").split("@", 1)[0]
    return value


def _last_destination(flows: list[_Flow]) -> str:
    """The destination of the last callflow (where the dialplan last sent the call)."""
    for flow in reversed(flows):
        target = flow.text("destination_number")
        if target:
            return target
    return ""


def _voicemail_at(variables: dict[str, Any], end: float) -> float:
    """When voicemail took the call: the queue's exit; else the answer that came after the
    phone rang (voicemail picking up); else, with no time kept for it, the end of the call."""
    left_queue = _time(variables, "cc_queue_canceled") or _time(variables, "cc_queue_terminated")
    if left_queue is not None:
        return left_queue
    rang, answered = _time(variables, "progress"), _time(variables, "answer")
    if rang is not None and answered is not None and answered >= rang:
        return answered
    return end


def _variables(record: dict[str, Any]) -> dict[str, Any]:
    """``variables`` as written (a repeated key's copies merged, later ones winning); its
    values are checked and URL-decoded one by one when read (``_var``, ``_time``)."""
    raw = record.get("variables")
    if raw is None:
        return {}
    if not isinstance(raw, Repeated):
        return _as_object(raw, "variables")
    merged: dict[str, Any] = {}
    for copy, part in enumerate(raw, start=1):
        if not isinstance(part, dict):
            raise RecordError(
                f"field 'variables' (copy {copy} of the repeated key) is not an object"
            )
        merged.update(part)
    return merged


def _var(variables: dict[str, Any], name: str) -> str:
    """A variable's text, URL-decoded ('' when absent)."""
    return unquote(_text(variables.get(name), f"variables.{name}"))


def _channel_direction(record: dict[str, Any]) -> str:
    channel = _as_object(record.get("channel_data"), "channel_data")
    return _text(channel.get("direction"), "channel_data.direction")


def _callflows(record: dict[str, Any]) -> list[_Flow]:
    """Every callflow (repeated key, array or single object), oldest profile first. A flow
    is named ``callflow[n]``: the n-th in the record, from 0, copies of a repeated key and
    array items counted in the order written."""
    raw = record.get("callflow")
    if raw is None:
        return []
    parts = raw if isinstance(raw, Repeated) else [raw]
    items: list[Any] = []
    for part in parts:
        items.extend(part if isinstance(part, list) and not isinstance(part, Repeated) else [part])
    flows = []
    for n, item in enumerate(items):
        path = f"callflow[{n}]"
        flow = _as_object(item, path)
        flows.append(
            _Flow(
                path=path,
                index=_profile_index(flow.get("profile_index"), f"{path}.profile_index"),
                profile=_as_object(flow.get("caller_profile"), f"{path}.caller_profile"),
                times=_as_object(flow.get("times"), f"{path}.times"),
            )
        )
    return sorted(flows, key=lambda f: f.index)


def _profile_index(value: Any, path: str) -> int:
    """The flow's order (FreeSWITCH numbers them from 1); absent sorts first."""
    number = _whole(value, path)
    if number is None:
        return 0
    if number < 0:
        raise RecordError(f"field '{path}' is not a whole number")
    return number


def _transfers(flows: list[_Flow], answered_at: float, caller: str) -> Iterator[tuple[float, str]]:
    """Callflows created after the answer, but a uuid_bridge's own: the call was transferred
    to their destination."""
    for flow in flows[1:]:
        path = f"{flow.path}.times.profile_created_time"
        created = _epoch(flow.times.get("profile_created_time"), path, per_second=1_000_000)
        target = flow.text("destination_number")
        if (
            target
            and not _bridge_profile(flow, caller)
            and created is not None
            and created > answered_at
        ):
            yield created, target


def _bridge_profile(flow: _Flow, caller: str) -> bool:
    """A callflow a uuid_bridge added: its destination is the other leg's UUID, or (as some
    versions write it) that leg's caller id, for a callcenter agent the caller's number."""
    target = flow.text("destination_number")
    return bool(target) and (bool(_UUID.fullmatch(target)) or target == caller)


def _time(variables: dict[str, Any], name: str, *, required: bool = False) -> float | None:
    """``name_uepoch`` (µs) or ``name_epoch`` (s) as Unix seconds; 0 or absent is None."""
    micro = _epoch(variables.get(f"{name}_uepoch"), f"variables.{name}_uepoch", 1_000_000)
    if micro is not None:
        return micro
    seconds = _epoch(variables.get(f"{name}_epoch"), f"variables.{name}_epoch", 1)
    if seconds is not None:
        return seconds
    if required:
        raise RecordError(f"field 'variables.{name}_epoch' is missing")
    return None


def _epoch(value: Any, path: str, per_second: int) -> float | None:
    """A Unix time in seconds from a field counting ``per_second`` units a second; 0 or
    absent is None (FreeSWITCH writes 0 for what did not happen). A time in milliseconds,
    a common mistake of tools that rewrite CDRs, is named as such."""
    number = _whole(value, path)
    if not number:
        return None
    unit = "seconds" if per_second == 1 else "microseconds"
    if EPOCH_MIN <= number / per_second < EPOCH_MAX:
        return number / per_second
    if EPOCH_MIN <= number / 1000 < EPOCH_MAX:
        raise RecordError(f"field '{path}' is in milliseconds, not a Unix time in {unit}")
    raise RecordError(
        f"field '{path}' is not a Unix time in {unit} between the years {YEARS[0]} and "
        f"{YEARS[-1] + 1}"
    )


def _whole(value: Any, path: str) -> int | None:
    """A whole number written as FreeSWITCH does (a string of digits) or as a JSON integer;
    None when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    raise RecordError(f"field '{path}' is not a whole number")


def _text(value: Any, path: str) -> str:
    """A text field as written ('' when absent or null). FreeSWITCH writes every value as a
    JSON string; a JSON number in its place was rewritten by another tool and has lost any
    leading 0 (UK numbers start with one), so it is refused rather than read as a wrong
    caller, id or extension."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Repeated):
        raise RecordError(f"field '{path}' is repeated")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise RecordError(
            f"field '{path}' is a JSON number, not a string as FreeSWITCH writes it "
            "(a leading 0 may be lost)"
        )
    raise RecordError(f"field '{path}' is not text")


def _as_object(value: Any, path: str) -> dict[str, Any]:
    """A JSON object field ({} when absent or null)."""
    if value is None:
        return {}
    if isinstance(value, Repeated):
        raise RecordError(f"field '{path}' is repeated")
    if not isinstance(value, dict):
        raise RecordError(f"field '{path}' is not an object")
    return value
