"""FreeSWITCH JSON CDR adapter on a pretty-printed CDR with a repeated ``callflow`` key and
on a one-object-per-line file (tests/fixtures/adapters/freeswitch_*)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.events import CallEvent
from streams.core.repeated_keys import parse_json
from streams.core.rules import Rules
from streams.ingest.adapters import freeswitch_json
from streams.ingest.adapters.common import AdapterLine
from streams.ingest.adapters.freeswitch_json import read_freeswitch_json

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


# --- one bad record among good ones: an error naming the field, never its value -------------

#: A good a-leg; each case below follows it with one bad record.
GOOD = {
    "variables": {
        "uuid": "u-1",
        "direction": "inbound",
        "caller_id_number": "07700900555",
        "start_epoch": "1785756000",
        "end_epoch": "1785756060",
    },
    "callflow": [{"caller_profile": {"caller_id_number": "07700900555", "context": "public"}}],
}


def _bad(**variables: object) -> dict:
    """A second call (u-2) with these ``variables`` set."""
    record = json.loads(json.dumps(GOOD))
    record["variables"].update(uuid="u-2", start_epoch="1785756100", end_epoch="1785756160")
    record["variables"].update(variables)
    return record


def _one_error_after_the_good_call(bad_line: str) -> str:
    """The good call still converts; the bad line gives one error, on line 2, quoting none of
    its numbers (a caller's number may be among them)."""
    out, _ = _read(text=json.dumps(GOOD) + "\n" + bad_line + "\n")
    (events,) = _calls(out).values()
    assert events[0].call_id == "u-1" and events[0].caller == "07700900555"
    assert _kinds(events) == ["call_started", "call_ended"]
    errors = [(o.line, o.error) for o in out if o.error]
    assert len(errors) == 1 and errors[0][0] == 2
    error = errors[0][1]
    assert "\n" not in error
    for digits in re.findall(r"[0-9]{3,}", bad_line):
        assert digits not in error
    return error


def test_start_epoch_in_milliseconds() -> None:
    line = json.dumps(_bad(start_epoch="1785756100000"))
    assert _one_error_after_the_good_call(line) == (
        "field 'variables.start_epoch' is in milliseconds, not a Unix time in seconds"
    )


@pytest.mark.parametrize("value", ["99999999999999", "-99999999999999"])
def test_start_epoch_out_of_range(value: str) -> None:
    assert _one_error_after_the_good_call(json.dumps(_bad(start_epoch=value))) == (
        "field 'variables.start_epoch' is not a Unix time in seconds between the years 2000 "
        "and 2100"
    )


def test_uepoch_beyond_any_date() -> None:
    line = json.dumps(_bad(end_uepoch="99999999999999999999999"))
    assert _one_error_after_the_good_call(line) == (
        "field 'variables.end_uepoch' is not a Unix time in microseconds between the years "
        "2000 and 2100"
    )


def test_caller_profile_not_an_object() -> None:
    line = json.dumps(_bad() | {"callflow": [{"caller_profile": "x"}]})
    assert _one_error_after_the_good_call(line) == (
        "field 'callflow[0].caller_profile' is not an object"
    )


def test_channel_data_not_an_object() -> None:
    record = _bad()
    record["channel_data"] = "x"
    del record["variables"]["direction"]
    assert _one_error_after_the_good_call(json.dumps(record)) == (
        "field 'channel_data' is not an object"
    )


def test_later_callflow_times_not_an_object() -> None:
    flows = [{"caller_profile": {}}, {"profile_index": "2", "times": []}]
    line = json.dumps(_bad(bridge_epoch="1785756110") | {"callflow": flows})
    assert _one_error_after_the_good_call(line) == "field 'callflow[1].times' is not an object"


def test_callflow_not_an_object() -> None:
    line = json.dumps(_bad() | {"callflow": [{"caller_profile": {}}, "x"]})
    assert _one_error_after_the_good_call(line) == "field 'callflow[1]' is not an object"


def test_caller_number_given_as_a_json_number_is_refused() -> None:
    """FreeSWITCH writes every value as a string; as a number the leading 0 is gone, so the
    caller would be a different number (and a different caller key)."""
    record = _bad() | {"callflow": [{"caller_profile": {"caller_id_number": 7700900555}}]}
    del record["variables"]["caller_id_number"]
    assert _one_error_after_the_good_call(json.dumps(record)) == (
        "field 'callflow[0].caller_profile.caller_id_number' is a JSON number, not a string "
        "as FreeSWITCH writes it (a leading 0 may be lost)"
    )


def test_call_id_given_as_a_json_number_is_one_error() -> None:
    record = _bad() | {"callflow": [{"caller_profile": {"uuid": 12345}}]}
    del record["variables"]["uuid"]
    error = _one_error_after_the_good_call(json.dumps(record))
    assert error.startswith("field 'callflow[0].caller_profile.uuid' is a JSON number")


def test_variables_repeated_with_a_copy_not_an_object() -> None:
    line = json.dumps(_bad())[:-1] + ', "variables": "x"}'
    assert _one_error_after_the_good_call(line) == (
        "field 'variables' (copy 2 of the repeated key) is not an object"
    )


def test_number_too_long_for_python() -> None:
    line = '{"variables":{"uuid":"u-2","start_epoch":' + "1" * 4301 + "}}"
    assert _one_error_after_the_good_call(line) == "not valid JSON: a number too long to read"


def test_nesting_too_deep_for_the_parser() -> None:
    assert _one_error_after_the_good_call("[" * 1500) == "not valid JSON: nested too deeply to read"


@pytest.mark.parametrize("fault", [KeyError, TypeError, OverflowError, RecursionError])
def test_an_unforeseen_fault_stays_the_records_own_and_is_not_quoted(monkeypatch, fault) -> None:
    """The last-resort guard: a fault no check foresaw rejects only its record, naming the
    kind of fault, never the exception's text."""

    def broken(variables: dict, rules: object, voicemail: bool = False) -> str:
        raise fault("07700900555")

    monkeypatch.setattr(freeswitch_json, "_bridged_extension", broken)
    out, tally = _read(
        text=json.dumps(GOOD) + "\n" + json.dumps(_bad(progress_epoch="1785756101")) + "\n"
    )
    assert sorted(_calls(out)) == ["u-1"]
    assert [(o.line, o.error) for o in out if o.error] == [
        (2, f"the record could not be read ({fault.__name__})")
    ]
    assert tally["hangup unknown"] == 1  # the rejected record counted nothing


def test_a_bad_first_line_does_not_lose_the_file() -> None:
    out, _ = _read(text="1" * 5000 + "\n" + json.dumps(GOOD) + "\n")
    assert [(o.line, o.error) for o in out if o.error] == [
        (1, "not valid JSON: a number too long to read")
    ]
    assert sorted(_calls(out)) == ["u-1"]


@pytest.mark.parametrize(
    ("first", "error"),
    [
        ('"07700900555"', "expected a JSON object (or an array of objects)"),
        ("7700900555", "expected a JSON object (or an array of objects)"),
        ("[7700900555]", "record 1 is not an object"),
    ],
)
def test_a_first_value_that_is_no_object_is_not_quoted(first: str, error: str) -> None:
    out, _ = _read(text=first + "\n" + json.dumps(GOOD) + "\n")
    assert [(o.line, o.error) for o in out if o.error] == [(1, error)]
    assert sorted(_calls(out)) == ["u-1"]


def test_concatenated_pretty_printed_cdrs_are_each_read() -> None:
    """``cat a.json b.json c.json``: each document is a record; a bad one is reported at the
    line it starts on and the others are read."""
    second = _bad()
    del second["variables"]["uuid"]
    docs = [json.dumps(r, indent=2) for r in (GOOD, second, _bad(uuid="u-3"))]
    out, _ = _read(text="\n".join(docs) + "\n")
    assert sorted(_calls(out)) == ["u-1", "u-3"]
    start_of_second = docs[0].count("\n") + 2
    assert [(o.line, o.error) for o in out if o.error] == [
        (start_of_second, "field 'variables.uuid' is missing: no call id")
    ]


def test_broken_json_after_a_whole_document_loses_only_what_follows() -> None:
    text = json.dumps(GOOD, indent=2) + "\n{ broken\n"
    out, _ = _read(text=text)
    assert sorted(_calls(out)) == ["u-1"]
    assert [o.error for o in out if o.error] == [
        "not valid JSON: Expecting property name enclosed in double quotes"
    ]


def test_a_hangup_cause_that_is_not_a_cause_name_is_counted_as_other() -> None:
    _, tally = _read(text=json.dumps(_bad(hangup_cause="07700900555")) + "\n")
    assert tally["hangup other"] == 1
    assert not any("07700900555" in reason for reason in tally)


def test_stock_voicemail_through_a_loopback_bridge_is_missed_not_answered() -> None:
    """FreeSWITCH's vanilla Local_Extension rings the user, then answers and bridges to
    ``loopback/app=voicemail``: that bridge (and its DIALSTATUS=SUCCESS) is voicemail
    taking the call, so the caller was not answered by a person (CBT004, not CBT003)."""
    record = _bad(
        dialed_user="3001",
        DIALSTATUS="SUCCESS",
        last_app="bridge",
        last_arg="loopback/app%3Dvoicemail%3Adefault%20gp.example%203001",
        bridge_channel="loopback/app=voicemail:default gp.example 3001-b",
        progress_epoch="1785756102",
        answer_epoch="1785756132",
        bridge_epoch="1785756133",
    )
    out, _ = _read(text=json.dumps(record) + "\n")
    (events,) = _calls(out).values()
    assert _kinds(events) == ["call_started", "ringing", "voicemail", "call_ended"]
    assert events[1].team == "3001"
    assert _gap(events, "call_started", "voicemail") == 32  # the pickup by voicemail


def test_a_ring_group_names_the_phone_that_answered_not_the_last_one_dialled() -> None:
    """``bridge user/1001,user/1002``: mod_dptools leaves dialed_user at the last user
    dialled (1002) whoever answers; the answering channel is the bridge's."""
    record = _bad(
        dialed_user="1002",
        bridge_channel="sofia/internal/3001%4010.0.0.5%3A5060",
        callee_id_number="3001",
        progress_epoch="1785756101",
        bridge_epoch="1785756108",
    )
    out, _ = _read(text=json.dumps(record) + "\n")
    (events,) = _calls(out).values()
    assert _kinds(events) == ["call_started", "ringing", "answered", "call_ended"]
    assert [e.team for e in events[1:3]] == ["3001", "3001"]
    # A WebRTC client registers a random contact user: no extension, so dialed_user stands.
    webrtc = _bad(
        dialed_user="3001",
        bridge_channel="sofia/internal/sip:k8d9s7f3@df7jal23ls0d.invalid;transport=ws",
        callee_id_number="k8d9s7f3",
        progress_epoch="1785756101",
        bridge_epoch="1785756108",
    )
    out, _ = _read(text=json.dumps(webrtc) + "\n")
    (events,) = _calls(out).values()
    assert [e.team for e in events[1:3]] == ["3001", "3001"]


def test_a_bridge_to_a_divert_number_is_an_ivr_divert_not_an_answer() -> None:
    from streams.core.rules import PhoneSystem

    rules = RULES.model_copy(
        update={"phone_system": PhoneSystem(divert_numbers={"0163 296 0999": "pharmacy"})}
    )
    record = _bad(
        bridge_channel="sofia/gateway/trunk/01632960999",
        progress_epoch="1785756101",
        bridge_epoch="1785756105",
    )
    out = list(read_freeswitch_json([json.dumps(record) + "\n"], PRACTICE, rules))
    (events,) = _calls(out).values()
    assert _kinds(events) == ["call_started", "ivr_divert", "call_ended"]
    assert events[1].target == "pharmacy"


def _one_call(record: dict) -> list[CallEvent]:
    """The events of the one call in ``record``, read as a one-line file."""
    out, _ = _read(text=json.dumps(record) + "\n")
    (events,) = _calls(out).values()
    return events


def _flow(index: int, destination: str, created: int, **times: int) -> dict:
    """A callflow of u-2 (times in seconds after 1785756100, written in µs)."""
    at = {name: str((1785756100 + s) * 1_000_000) for name, s in times.items()}
    return {
        "profile_index": str(index),
        "caller_profile": {"caller_id_number": "07700900555", "destination_number": destination},
        "times": {"profile_created_time": str((1785756100 + created) * 1_000_000), **at},
    }


@pytest.mark.parametrize("agent_leg", ["5d2c4b1e-8f3a-4c6d-9e0b-1a2b3c4d5e6f", "07700900555"])
def test_a_callcenter_agent_bridge_is_not_a_transfer(agent_leg: str) -> None:
    """mod_callcenter puts the caller through with uuid_bridge, which adds a callflow to the
    caller's leg "for CDR's sake" just after ``cc_queue_answered_epoch`` (whole seconds),
    its destination the agent leg's UUID (or that leg's caller id, the caller's number)."""
    record = _bad(
        cc_queue="reception%40gp.example",
        cc_side="member",
        cc_queue_joined_epoch="1785756110",
        cc_queue_answered_epoch="1785756140",
        last_app="callcenter",
    )
    record["callflow"] = [_flow(1, "01632960000", 0), _flow(2, agent_leg, 40, bridged_time=40)]
    record["callflow"][1]["times"]["profile_created_time"] = "1785756140420000"
    events = _one_call(record)
    assert _kinds(events) == ["call_started", "queue_joined", "answered", "call_ended"]
    # An agent's transfer after that is still a transfer.
    record["callflow"].append(_flow(3, "3001", 50))
    events = _one_call(record)
    assert _kinds(events) == [
        "call_started",
        "queue_joined",
        "answered",
        "transferred",
        "call_ended",
    ]
    assert events[3].team == "3001"


def _answered_then_transferred(**variables: object) -> dict:
    """1002 answers 5 s in (callflow 2); 2 min later they transfer the caller to 1003
    (callflow 3). The variables describe the last bridge only: FreeSWITCH keeps
    ``bridge_epoch``, ``bridge_channel`` and ``dialed_user`` of the latest."""
    record = _bad(progress_epoch="1785756101", answer_epoch="1785756105", **variables)
    record["callflow"] = [
        _flow(1, "01632960000", 0, transfer_time=0),
        _flow(2, "1002", 0, bridged_time=5, transfer_time=125),
        _flow(3, "1003", 125, **({"bridged_time": 130} if "bridge_epoch" in variables else {})),
    ]
    return record


def test_an_answered_call_transferred_on_is_answered_by_the_first_person() -> None:
    answered_on = _answered_then_transferred(
        dialed_user="1003",
        bridge_channel="sofia/internal/1003%40gp.example",
        DIALSTATUS="SUCCESS",
        bridge_epoch="1785756230",
    )
    events = _one_call(answered_on)
    assert _kinds(events) == ["call_started", "ringing", "answered", "transferred", "call_ended"]
    assert _gap(events, "call_started", "answered") == 5
    assert [e.team for e in events[1:4]] == ["1002", "1002", "1003"]
    assert _gap(events, "call_started", "transferred") == 125


@pytest.mark.parametrize("last_app", ["bridge", "voicemail"])
def test_a_call_transferred_to_no_answer_or_voicemail_was_still_answered(last_app: str) -> None:
    """After the transfer 1003 does not answer (``bridge_epoch`` 0, DIALSTATUS NOANSWER),
    or the caller is sent to voicemail: the caller spoke to 1002 for two minutes all the
    same, so the call is answered (CBT003), not missed."""
    unanswered = _answered_then_transferred(
        dialed_user="1003", DIALSTATUS="NOANSWER", bridge_epoch="0", last_app=last_app
    )
    events = _one_call(unanswered)
    assert _kinds(events) == ["call_started", "ringing", "answered", "transferred", "call_ended"]
    assert _gap(events, "call_started", "answered") == 5
    assert events[2].team == "1002"


def test_a_bridge_to_voicemail_in_the_callflows_is_not_a_person() -> None:
    loopback = {
        "last_arg": "loopback/app%3Dvoicemail%3Adefault%20gp.example%201003",
        "bridge_channel": "loopback/app=voicemail:default gp.example 1003-b",
        "DIALSTATUS": "SUCCESS",
        "bridge_epoch": "1785756230",
    }
    after_an_answer = _answered_then_transferred(**loopback)
    events = _one_call(after_an_answer)
    assert _kinds(events) == ["call_started", "ringing", "answered", "transferred", "call_ended"]
    assert _gap(events, "call_started", "answered") == 5
    alone = _bad(dialed_user="1003", progress_epoch="1785756101", **loopback)
    alone["callflow"] = [_flow(1, "1003", 0, bridged_time=130)]
    events = _one_call(alone)
    assert _kinds(events) == ["call_started", "ringing", "voicemail", "call_ended"]


def test_a_first_answer_through_uuid_bridge_is_named_by_the_callflow_before_it() -> None:
    """uuid_bridge (a pickup, a FIFO) bridges in a callflow of its own, whose destination
    is the other leg's UUID: the team is where the call was before it, not a UUID."""
    record = _bad(progress_epoch="1785756101", dialed_user="1003", DIALSTATUS="SUCCESS")
    record["variables"]["bridge_epoch"] = "1785756230"
    record["callflow"] = [
        _flow(1, "01632960000", 0, transfer_time=0),
        _flow(2, "1002", 0, transfer_time=5),
        _flow(3, "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", 5, bridged_time=5, transfer_time=125),
        _flow(4, "1003", 125, bridged_time=130),
    ]
    events = _one_call(record)
    assert _kinds(events) == ["call_started", "ringing", "answered", "transferred", "call_ended"]
    assert [e.team for e in events[1:4]] == ["1002", "1002", "1003"]
