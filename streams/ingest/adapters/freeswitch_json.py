"""FreeSWITCH JSON CDRs (mod_json_cdr) to canonical v1 events.

One CDR is one call leg: the caller's (a-)leg gives the call; legs FreeSWITCH originated
to phones or callcenter agents (b-legs) are counted and skipped, as the a-leg carries their
times. Values under ``variables`` are URL-encoded (decoded here); times are epochs
(``*_uepoch`` microseconds preferred, else ``*_epoch`` seconds). ``callflow`` may appear more
than once in one object (older mod_json_cdr repeats the key), so objects are parsed keeping
every copy. A file holds one object (pretty-printed or not), a JSON array of objects, or one
object per line. docs/formats.md lists the mapping and its limits.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from streams.core.rules import Rules
from streams.ingest.adapters.common import (
    AdapterLine,
    Tally,
    build_event,
    caller_or_withheld,
    free_text,
    make_event_id,
    not_utf8,
    require_practice,
    undecodable,
    utc_from_epoch,
)

FORMAT = "freeswitch-json"

#: Variables FreeSWITCH sets on legs it originated (the a-leg holds the call).
_B_LEG_MARKERS = ("originator", "originating_leg_uuid")
#: Variables naming what the call was bridged to, most telling first.
_BRIDGED = ("dialed_user", "dialed_extension", "bridge_channel", "callee_id_number")


class RecordError(ValueError):
    """A CDR whose fields cannot be read; the message names the field."""


class _Repeated(list):  # type: ignore[type-arg]
    """Values of a key that appeared more than once in one JSON object."""


def _keep_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key not in obj:
            obj[key] = value
        elif isinstance(obj[key], _Repeated):
            obj[key].append(value)
        else:
            obj[key] = _Repeated([obj[key], value])
    return obj


def parse_json(text: str) -> Any:
    """JSON where a repeated key keeps all its values (as a list), not only the last."""
    return json.loads(text, object_pairs_hook=_keep_repeats)


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
            continue
        try:
            record = _readable(record, "")
            events = list(_events(record, rules, tally))
        except RecordError as exc:
            yield AdapterLine(line, error=str(exc))
            continue
        source = json.dumps(record, sort_keys=True)
        for fields in events:
            fields["practice"] = practice
            fields["event_id"] = make_event_id(fields["call_id"], source, fields["type"])
            yield build_event(line, fields)


def _records(lines: Iterable[str], tally: Tally) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, object or error) per CDR: one per line, or one document for the whole file."""
    numbered = enumerate(lines, start=1)
    first_no, first = next(((n, t) for n, t in numbered if t.strip()), (0, ""))
    if not first:
        return
    try:
        parsed = parse_json(first)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):  # one object per line
        yield first_no, parsed
        for no, text in numbered:
            if not text.strip():
                tally["skipped: blank line"] += 1
                continue
            yield no, _object(text)
        return
    document = first + "".join(text for _, text in numbered)
    try:
        whole = parse_json(document)
    except json.JSONDecodeError as exc:
        yield exc.lineno + first_no - 1, f"not valid JSON: {exc.msg}"
        return
    if isinstance(whole, dict):
        yield first_no, whole
    elif isinstance(whole, list):
        for index, item in enumerate(whole, start=1):
            yield index, item if isinstance(item, dict) else f"record {index} is not an object"
    else:
        yield first_no, "expected a JSON object (or an array of objects)"


def _object(text: str) -> dict[str, Any] | str:
    try:
        value = parse_json(text.strip())
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    return value if isinstance(value, dict) else "expected a JSON object"


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


def _events(record: dict[str, Any], rules: Rules, tally: Tally) -> Iterator[dict[str, Any]]:
    variables = _variables(record)
    flows = _callflows(record)
    profile = flows[0].get("caller_profile", {}) if flows else {}
    if variables.get("cc_side") == "agent" or any(m in variables for m in _B_LEG_MARKERS):
        tally["skipped: b-leg (its call is read from the a-leg)"] += 1
        return
    call_id = variables.get("uuid") or profile.get("uuid")
    if not call_id:
        raise RecordError("field 'variables.uuid' is missing: no call id")
    start = _time(variables, "start", required=True)
    end = _time(variables, "end", required=True)
    assert start is not None and end is not None
    fs_direction = variables.get("direction") or record.get("channel_data", {}).get("direction")
    context = profile.get("context") or variables.get("context", "")
    number = variables.get("caller_id_number") or profile.get("caller_id_number")
    # Outbound: FreeSWITCH's own direction, a context of the practice's phones, or a call
    # placed on one of them (its caller is an extension) whatever its context.
    inbound = not (
        fs_direction == "outbound"
        or context in rules.phone_system.freeswitch_outbound_contexts
        or rules.is_extension(number)
    )
    tally[f"hangup {variables.get('hangup_cause', 'unknown')}"] += 1

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
    queue = variables.get("cc_queue", "").split("@")[0]
    if queue:
        joined = _time(variables, "cc_queue_joined")
        yield event("queue_joined", joined or start, queue=queue)
        answered_at = _time(variables, "cc_queue_answered")
        if answered_at is not None:
            yield event("answered", answered_at, **team(queue))
    else:
        answered_at = _person_answered(variables)
        progress = _time(variables, "progress")
        if answered_at is not None or progress is not None:
            dialled = _bridged_extension(variables) or _last_destination(flows)
            yield event("ringing", progress if progress is not None else start, **team(dialled))
            if answered_at is not None:
                yield event("answered", answered_at, **team(dialled))
    if answered_at is not None:
        for at, target in _transfers(flows, answered_at):
            yield event("transferred", at, **team(target))
    if variables.get("last_app", "").lower() == "voicemail" and answered_at is None:
        yield event("voicemail", _voicemail_at(variables, end))
    yield event("call_ended", end)


def _person_answered(variables: dict[str, str]) -> float | None:
    """When a person answered: the bridge; else the answer, when the dial succeeded (an
    ``answer_epoch`` alone is not a person: the IVR answers calls)."""
    bridged = _time(variables, "bridge")
    if bridged is not None:
        return bridged
    if variables.get("DIALSTATUS", "").upper() == "SUCCESS":
        return _time(variables, "answer")
    return None


def _bridged_extension(variables: dict[str, str]) -> str:
    """The extension the call was put through to, as FreeSWITCH names it ('' if none):
    ``dialed_user``, or the user in ``bridge_channel`` (``sofia/internal/1002@host``)."""
    for name in _BRIDGED:
        value = variables.get(name, "").strip()
        if name == "bridge_channel" and value:
            value = value.rsplit("/", 1)[-1].removeprefix("sip:").split("@", 1)[0]
        if value:
            return value
    return ""


def _last_destination(flows: list[dict[str, Any]]) -> str:
    """The destination of the last callflow (where the dialplan last sent the call)."""
    for flow in reversed(flows):
        target = flow.get("caller_profile", {}).get("destination_number")
        if target:
            return str(target)
    return ""


def _voicemail_at(variables: dict[str, str], end: float) -> float:
    """When voicemail took the call: the queue's exit; else the answer that came after the
    phone rang (voicemail picking up); else, with no time kept for it, the end of the call."""
    left_queue = _time(variables, "cc_queue_canceled") or _time(variables, "cc_queue_terminated")
    if left_queue is not None:
        return left_queue
    rang, answered = _time(variables, "progress"), _time(variables, "answer")
    if rang is not None and answered is not None and answered >= rang:
        return answered
    return end


def _variables(record: dict[str, Any]) -> dict[str, str]:
    raw = record.get("variables", {})
    if isinstance(raw, _Repeated):
        merged: dict[str, Any] = {}
        for part in raw:
            merged.update(part)
        raw = merged
    if not isinstance(raw, dict):
        raise RecordError("field 'variables' is not an object")
    return {k: unquote(v) if isinstance(v, str) else str(v) for k, v in raw.items()}


def _callflows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every callflow (repeated key, array or single object), oldest profile first."""
    raw = record.get("callflow", [])
    flows: list[Any] = []
    for part in raw if isinstance(raw, list) else [raw]:
        flows.extend(part if isinstance(part, list) else [part])
    flows = [f for f in flows if isinstance(f, dict)]
    return sorted(flows, key=_profile_index)


def _profile_index(flow: dict[str, Any]) -> int:
    value = str(flow.get("profile_index", "0"))
    return int(value) if value.isdigit() else 0


def _transfers(flows: list[dict[str, Any]], answered_at: float) -> Iterator[tuple[float, str]]:
    """Callflows created after the answer: the call was transferred to their destination."""
    for flow in flows[1:]:
        created = _number(flow.get("times", {}).get("profile_created_time"))
        target = flow.get("caller_profile", {}).get("destination_number")
        if created and target and created / 1_000_000 > answered_at:
            yield created / 1_000_000, str(target)


def _time(variables: dict[str, str], name: str, *, required: bool = False) -> float | None:
    """``name_uepoch`` (µs) or ``name_epoch`` (s) as Unix seconds; 0 or absent is None."""
    micro = _number(variables.get(f"{name}_uepoch"), f"variables.{name}_uepoch")
    if micro:
        return micro / 1_000_000
    seconds = _number(variables.get(f"{name}_epoch"), f"variables.{name}_epoch")
    if seconds:
        return float(seconds)
    if required:
        raise RecordError(f"field 'variables.{name}_epoch' is missing")
    return None


def _number(value: Any, name: str = "times") -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise RecordError(f"field '{name}' is not a whole number") from None
