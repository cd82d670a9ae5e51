"""The first hop: raw bytes -> pseudonymised event, or a reason naming the field."""

from __future__ import annotations

import json

from models.events import PseudonymisedEvent
from streams.core.batch import latest_per_call
from streams.core.normalise import Rejected, normalise

KEY = b"test-key"
STARTED = {
    "practice": "A12345",
    "call_id": "c1",
    "event_id": "e1",
    "type": "call_started",
    "at": "2026-08-03T07:30:00Z",
    "caller": "07700 900123",
}


def _bytes(**changes: object) -> bytes:
    return json.dumps({**STARTED, **changes}).encode()


def test_valid_event_is_pseudonymised() -> None:
    result = normalise(_bytes(), b"A12345:c1", KEY)
    assert isinstance(result, PseudonymisedEvent)
    assert result.caller_key and len(result.caller_key) == 32
    assert "07700" not in result.model_dump_json()


def test_naive_time_is_rejected_naming_the_field() -> None:
    result = normalise(_bytes(at="2026-08-03T07:30:00"), b"A12345:c1", KEY)
    assert isinstance(result, Rejected)
    assert result.field == "at"
    assert result.reason.startswith("at: ")


def test_missing_type_specific_field_is_named() -> None:
    result = normalise(_bytes(type="queue_joined"), b"A12345:c1", KEY)
    assert result == Rejected("field 'queue' is required for a queue_joined event", "queue")


def test_reason_never_quotes_the_value() -> None:
    result = normalise(_bytes(caller="0" * 80), b"A12345:c1", KEY)
    assert isinstance(result, Rejected)
    assert result.field == "caller"
    assert "0000000000" not in result.reason


def test_not_json_and_empty_and_wrong_key() -> None:
    bad = normalise(b"{oops", b"k", KEY)
    assert isinstance(bad, Rejected) and bad.reason.startswith("not valid JSON")
    assert isinstance(normalise(b"", None, KEY), Rejected)
    wrong = normalise(_bytes(), b"A12345:other", KEY)
    assert isinstance(wrong, Rejected) and wrong.field == "key"


def test_a_field_given_twice_is_refused_naming_it_whatever_the_spacing() -> None:
    """pydantic keeps a repeated key's last value: a call that rang and was answered in one
    event would be whichever the phone system wrote last."""
    text = _bytes().decode()
    twice = text.replace('"type": "call_started"', '"type": "ringing", "type" :"call_started"')
    result = normalise(twice.encode(), b"A12345:c1", KEY)
    assert result == Rejected(
        "field 'type': given more than once in this event: which value is meant is not "
        "known; give each field once",
        "type",
    )
    both = text.replace('"c1"', '"c1", "at":\t"2026-08-03T07:31:00Z", "call_id": "c1"')
    result = normalise(both.encode(), b"A12345:c1", KEY)
    assert isinstance(result, Rejected) and result.field == "at"
    assert "field 'at'" in result.reason and "field 'call_id'" in result.reason


def test_a_value_that_looks_like_a_key_is_not_a_repeat() -> None:
    result = normalise(_bytes(team='front "desk": "x"', type="answered"), b"A12345:c1", KEY)
    assert isinstance(result, PseudonymisedEvent) and result.team == 'front "desk": "x"'


def _classified(call_id: str, **changes: object) -> bytes:
    row = {
        "practice": "A12345",
        "call_id": call_id,
        "started_at": "2026-08-03T07:30:00Z",
        "local_date": "2026-08-03",
        "time_band": "08:00-09:59",
        "core_category": "Core_8_10",
        "inbound": True,
        "outcome": "callback_requested",
        "wait_s": 40,
        "wait_bucket": "31_60",
        "talk_s": None,
        "duration_bucket": None,
        "callback_made": False,
        "request_type": None,
        "first_team": None,
        "transfers": 0,
        "routing": "unrouted",
        "caller_key": None,
        "complete": True,
        "rules_version": "1",
    }
    return json.dumps({**row, **changes}).encode()


def test_batch_keeps_the_latest_report_of_each_call() -> None:
    batch = latest_per_call(
        [_classified("c1"), _classified("c2"), b"nonsense", _classified("c1", callback_made=True)]
    )
    assert [(c.call_id, c.callback_made) for c in batch.calls] == [("c1", True), ("c2", False)]
    assert [index for index, _ in batch.rejected] == [2]
