"""Adapter fixtures through the real classifier: the values a person counts by hand.

Each table row is read off the fixture file (docs/formats.md says how): outcome, wait,
talk, transfers, routing, completeness, and that one number gives one caller key.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from models.classified import ClassifiedCall
from streams.core.classify import classify_call
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import load_rules
from streams.ingest.adapters.asterisk_cdr import read_asterisk_cdr
from streams.ingest.adapters.asterisk_queue_log import read_queue_log
from streams.ingest.adapters.canonical_csv import read_canonical_csv
from streams.ingest.adapters.common import AdapterLine
from streams.ingest.adapters.freeswitch_json import read_freeswitch_json

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
PRACTICE = "A12345"
KEY = b"test-key-not-secret"
RULES = load_rules()


def _classify(items: Iterable[AdapterLine]) -> dict[str, ClassifiedCall]:
    calls: dict[str, list] = {}
    for item in items:
        if item.event is not None:
            calls.setdefault(item.event.call_id, []).append(pseudonymise(item.event, KEY))
    return {call_id: classify_call(events, RULES) for call_id, events in calls.items()}


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines(keepends=True)


def _check(calls: dict[str, ClassifiedCall], expected: dict[str, tuple]) -> None:
    assert sorted(calls) == sorted(expected)
    for call_id, (outcome, wait, talk, transfers, routing, complete) in expected.items():
        got = calls[call_id]
        assert (got.outcome, got.wait_s, got.talk_s, got.transfers, got.routing, got.complete) == (
            outcome,
            wait,
            talk,
            transfers,
            routing,
            complete,
        ), call_id


@pytest.fixture(scope="module")
def queue_log() -> dict[str, ClassifiedCall]:
    return _classify(read_queue_log(_lines("queue_log"), PRACTICE, RULES))


def test_queue_log_counts_as_a_supervisor_would(queue_log) -> None:
    _check(
        queue_log,
        {
            "1785740400.11": ("answered", 42, 185, 0, "right_first_time", True),
            "1785740405.13": ("missed", 95, None, 0, "unrouted", True),
            "1785740410.15": ("missed", 300, None, 0, "unrouted", True),
            "1785740460.17": ("answered", 12, 64, 1, "transferred", True),
            "1785740520.19": ("answered", 5, 170, 1, "transferred", True),
            "1785740600.21": ("missed", 40, None, 0, "unrouted", True),
            "1785740650.23": ("missed", 70, None, 0, "unrouted", True),
            "1785740700.25": ("answered", 3, 45, 1, "transferred", True),
            "1785740800.27": ("answered", 8, None, 0, "right_first_time", False),
        },
    )
    outcomes = [c.outcome for c in queue_log.values()]
    assert (outcomes.count("answered"), outcomes.count("missed")) == (5, 4)


def test_queue_log_caller_keys_one_per_number_none_when_withheld(queue_log) -> None:
    same = queue_log["1785740400.11"].caller_key  # 07700900123
    assert same is not None and queue_log["1785740460.17"].caller_key == same  # +447700900123
    assert queue_log["1785740405.13"].caller_key is None  # anonymous
    assert queue_log["1785740800.27"].caller_key is None  # empty callerid
    others = {c.caller_key for k, c in queue_log.items() if k not in ("1785740400.11",)}
    assert len(others - {None, same}) == 5


def test_queue_log_times_and_bands(queue_log) -> None:
    first = queue_log["1785740400.11"]
    assert first.started_at.isoformat() == "2026-08-03T07:00:00+00:00"
    assert (first.time_band, first.core_category) == ("08:00-09:59", "Core_8_10")
    assert first.first_team == "reception"
    assert queue_log["1785740410.15"].wait_bucket == "241_300"


def test_queue_log_callback_key_gives_a_callback_request() -> None:
    calls = _classify(read_queue_log(_lines("queue_log"), PRACTICE, RULES, callback_keys={"1"}))
    assert calls["1785740650.23"].outcome == "callback_requested"
    assert calls["1785740650.23"].wait_s == 70


def test_asterisk_cdr_classified() -> None:
    calls = _classify(read_asterisk_cdr(_lines("Master.csv"), PRACTICE, RULES))
    _check(
        calls,
        {
            "1785740400.1": ("answered", 12, 180, 0, "right_first_time", True),
            "1785740460.3": ("missed", 95, None, 0, "unrouted", True),
            "1785740700.4": ("missed", 20, None, 0, "unrouted", True),
            "1785741000.7": ("answered", 8, 607, 1, "transferred", True),
            "1785741300.10": ("ended_in_ivr", None, None, 0, "unrouted", True),
            "1785741900.11": (None, None, None, 0, "unrouted", True),
            "1785742200.13": ("missed", 1, None, 0, "unrouted", True),
            "1785742260.15": (None, None, None, 0, "unrouted", True),
            "1785743400.21": ("answered", 4, 116, 0, "right_first_time", True),
        },
    )
    assert calls["1785740460.3"].caller_key is None
    assert not calls["1785741900.11"].inbound


def test_freeswitch_classified() -> None:
    lines = _lines("freeswitch_cdr.json")
    calls = _classify(read_freeswitch_json(lines, PRACTICE, RULES))
    calls |= _classify(read_freeswitch_json(_lines("freeswitch_cdrs.ndjson"), PRACTICE, RULES))
    _check(
        calls,
        {
            "a1b2c3d4-0001-4a6f-9a51-0d2b5e6f7a01": ("answered", 42, 248, 1, "transferred", True),
            "a1b2c3d4-0002": ("missed", 90, None, 0, "unrouted", True),
            "a1b2c3d4-0004": ("answered", 9, 290, 0, "right_first_time", True),
            "a1b2c3d4-0005": ("missed", 30, None, 0, "unrouted", True),
            "a1b2c3d4-0006": ("ended_in_ivr", None, None, 0, "unrouted", True),
            "a1b2c3d4-0007": (None, None, None, 0, "unrouted", True),
        },
    )
    assert calls["a1b2c3d4-0002"].caller_key is None


def test_canonical_csv_classified() -> None:
    calls = _classify(read_canonical_csv(_lines("events.csv"), PRACTICE))
    _check(
        calls,
        {
            "c1": ("answered", 100, 210, 0, "right_first_time", True),
            "c2": ("ended_in_ivr", None, None, 0, "signposted", True),
            "c3": ("missed", 120, None, 0, "unrouted", True),
            "c4": ("callback_requested", 60, None, 0, "unrouted", True),
        },
    )
    assert calls["c1"].request_type == "appointments"
    assert calls["c2"].caller_key is None
    assert calls["c4"].callback_made is True
