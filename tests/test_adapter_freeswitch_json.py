"""FreeSWITCH JSON CDR adapter on a pretty-printed CDR with a repeated ``callflow`` key and
on a one-object-per-line file (tests/fixtures/adapters/freeswitch_*)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.events import CallEvent
from streams.core.rules import Rules
from streams.ingest.adapters.common import AdapterLine
from streams.ingest.adapters.freeswitch_json import parse_json, read_freeswitch_json

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
PRACTICE = "A12345"


#: Practice rules: team -> role, ``admin`` for teams they do not list.
RULES = Rules(
    version="t",
    teams={"reception": {"role": "care_navigator"}, "3001": {"role": "nurse"}},
    default_role="admin",
)


def _read(name: str | None = None, text: str | None = None):
    tally: Counter[str] = Counter()
    source = text if text is not None else (FIXTURES / name).read_text()
    lines = source.splitlines(keepends=True)
    return list(read_freeswitch_json(lines, PRACTICE, RULES, tally=tally)), tally


def _calls(out: list[AdapterLine]) -> dict[str, list[CallEvent]]:
    calls: dict[str, list[CallEvent]] = {}
    for item in out:
        if item.event is not None:
            calls.setdefault(item.event.call_id, []).append(item.event)
    return calls


def _kinds(events: list[CallEvent]) -> list[str]:
    return [e.type.value for e in events]


def _gap(events: list[CallEvent], a: str, b: str) -> float:
    at = {e.type.value: e.at for e in reversed(events)}
    return (at[b] - at[a]).total_seconds()


def test_repeated_keys_keep_every_value() -> None:
    parsed = parse_json('{"callflow": {"a": 1}, "callflow": {"a": 2}, "x": [1]}')
    assert parsed["callflow"] == [{"a": 1}, {"a": 2}]
    assert parsed["x"] == [1]


def test_pretty_printed_cdr_with_two_callflows_is_a_queue_call_then_a_transfer() -> None:
    out, tally = _read("freeswitch_cdr.json")
    assert [o.error for o in out if o.error] == []
    (events,) = _calls(out).values()
    assert _kinds(events) == [
        "call_started",
        "queue_joined",
        "answered",
        "transferred",
        "call_ended",
    ]
    assert events[0].at == datetime(2026, 8, 3, 7, 0, 0, tzinfo=UTC)
    assert events[0].caller == "07700900123" and events[0].direction == "inbound"
    assert events[1].queue == "reception"  # URL-decoded, domain dropped
    assert (events[2].team, events[2].role) == ("reception", "care_navigator")
    assert _gap(events, "queue_joined", "answered") == 42  # cc_queue_answered - joined
    assert (events[3].team, events[3].role) == ("3001", "nurse")
    assert events[3].at == datetime(2026, 8, 3, 7, 2, 40, tzinfo=UTC)
    assert _gap(events, "answered", "call_ended") == 248
    assert tally["hangup NORMAL_CLEARING"] == 1


@pytest.fixture(scope="module")
def ndjson():
    return _read("freeswitch_cdrs.ndjson")


def test_bad_records_are_reported_by_line(ndjson) -> None:
    out, tally = ndjson
    assert [(o.line, o.error) for o in out if o.error] == [
        (8, "field 'variables.uuid' is missing: no call id"),
        (9, "not valid JSON: Expecting ',' delimiter (column 68)"),
        (10, "field 'variables.start_epoch' is not a whole number"),
    ]
    assert tally["skipped: b-leg (its call is read from the a-leg)"] == 1
    assert tally["skipped: blank line"] == 1


def test_abandoned_anonymous_queue_call(ndjson) -> None:
    events = _calls(ndjson[0])["a1b2c3d4-0002"]
    assert _kinds(events) == ["call_started", "queue_joined", "call_ended"]
    assert events[0].caller == "withheld"
    assert _gap(events, "queue_joined", "call_ended") == 90


def test_direct_extension_answered_after_ringing(ndjson) -> None:
    events = _calls(ndjson[0])["a1b2c3d4-0004"]
    assert _kinds(events) == ["call_started", "ringing", "answered", "call_ended"]
    assert events[0].caller == "+44 7700 900456"  # URL-decoded
    assert _gap(events, "ringing", "answered") == 9
    assert _gap(events, "answered", "call_ended") == 290
    assert events[2].team == "202"


def test_voicemail_after_no_answer_is_timed_at_its_pickup(ndjson) -> None:
    events = _calls(ndjson[0])["a1b2c3d4-0005"]
    assert _kinds(events) == ["call_started", "ringing", "voicemail", "call_ended"]
    assert _gap(events, "ringing", "voicemail") == 30


def test_ivr_only_and_outbound_calls(ndjson) -> None:
    calls = _calls(ndjson[0])
    assert _kinds(calls["a1b2c3d4-0006"]) == ["call_started", "call_ended"]
    outbound = calls["a1b2c3d4-0007"]
    assert _kinds(outbound) == ["call_started", "call_ended"]
    assert outbound[0].direction == "outbound"
    assert all(e.team is None for e in outbound)  # the dialled number never becomes a team


def test_array_document_and_empty_input() -> None:
    text = (FIXTURES / "freeswitch_cdrs.ndjson").read_text().splitlines()
    array = "[\n" + ",\n".join(text[2:4]) + "\n]\n"
    out, _ = _read(text=array)
    assert sorted(_calls(out)) == ["a1b2c3d4-0004", "a1b2c3d4-0005"]
    assert _read(text="\n\n")[0] == []
    bad, _ = _read(text='{"variables":\n  {"uuid": }\n}\n')
    assert [(o.line, o.error) for o in bad] == [(2, "not valid JSON: Expecting value")]


def test_event_ids_are_stable() -> None:
    first = [o.event.event_id for o in _read("freeswitch_cdrs.ndjson")[0] if o.event]
    assert first == [o.event.event_id for o in _read("freeswitch_cdrs.ndjson")[0] if o.event]
    assert len(set(first)) == len(first)


def test_practice_is_required() -> None:
    with pytest.raises(ValueError, match="--practice ODS is required for freeswitch-json"):
        read_freeswitch_json([], None, RULES)
