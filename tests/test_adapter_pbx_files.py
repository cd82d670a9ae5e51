"""Phone-system files as real PBXs write them, each counted by hand (tests/fixtures/adapters).

Written from the vendors' documentation (Asterisk's cdr_csv and cdr_custom.conf.sample,
app_queue's queue_log, FreeSWITCH mod_json_cdr); numbers are Ofcom's drama ranges. Times
are London summer time: 09:00 local is 08:00Z. Each table row reads: outcome, wait, talk,
first team, transfers, routing (inbound calls; outbound ones have no outcome or team).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from models.classified import ClassifiedCall
from models.events import CallEvent, EventType
from streams.core.classify import classify_call
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import Rules
from streams.ingest.adapters.asterisk_cdr import UNTIMED, read_asterisk_cdr
from streams.ingest.adapters.asterisk_queue_log import read_queue_log
from streams.ingest.adapters.common import AdapterLine
from streams.ingest.adapters.freeswitch_json import read_freeswitch_json
from streams.ingest.formats import decode_lines

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
PRACTICE = "A12345"
KEY = b"test-key-not-secret"
#: The practice's rules: queue 400 and extension 1002 are reception's. They do not name the
#: contexts the phones sit in (LocalSets, phones): those calls are outbound by what they did.
RULES = Rules(
    version="t",
    teams={"reception": {"role": "care_navigator"}},
    default_role="admin",
    extensions={"400": "reception", "1002": "reception"},
)


def _lines(name: str, tally: Counter[str] | None = None) -> list[str]:
    """The file's lines as `callstream` reads them: bytes decoded line by line."""
    with (FIXTURES / name).open("rb") as raw:
        return list(decode_lines(raw, tally if tally is not None else Counter()))


def _events(items: Iterable[AdapterLine]) -> dict[str, list[CallEvent]]:
    items = list(items)
    assert [(i.line, i.error) for i in items if i.error] == []  # every line read
    calls: dict[str, list[CallEvent]] = {}
    for item in items:
        assert item.event is not None
        calls.setdefault(item.event.call_id, []).append(item.event)
    return calls


def _classified(calls: dict[str, list[CallEvent]]) -> dict[str, ClassifiedCall]:
    return {
        k: classify_call([pseudonymise(e, KEY) for e in events], RULES)
        for k, events in calls.items()
    }


def _check(calls: dict[str, ClassifiedCall], expected: dict[str, tuple | None]) -> None:
    assert sorted(calls) == sorted(expected)
    for call_id, row in expected.items():
        got = calls[call_id]
        if row is None:  # outbound: never CBT001, no team
            assert (got.inbound, got.outcome, got.first_team) == (False, None, None), call_id
            continue
        measured = (got.outcome, got.wait_s, got.talk_s, got.first_team, got.transfers)
        assert (*measured, got.routing) == row, call_id
        assert got.inbound, call_id


def _types(events: list[CallEvent]) -> list[str]:
    return [e.type.value for e in events]


# --- Asterisk 11 / FreePBX, cdr_csv with uniqueid (18 columns) ---


@pytest.fixture(scope="module")
def freepbx_18() -> tuple[dict[str, list[CallEvent]], Counter[str]]:
    tally: Counter[str] = Counter()
    lines = _lines("cdr_freepbx_18.csv")
    return _events(read_asterisk_cdr(lines, PRACTICE, RULES, tally=tally)), tally


def test_freepbx_18_column_calls_by_hand(freepbx_18) -> None:
    calls, tally = freepbx_18
    _check(
        _classified(calls),
        {
            # queue 400 (reception): joined 09:00:00, 201's Local half picked up at 09:00:45
            # (start 09:00:30 + duration 272 - billsec 257), call ended 09:05:02
            "1785744000.101": ("answered", 45, 257, "reception", 0, "right_first_time"),
            # ring group on the DID: 202 picked up 9 s in; no transfer, the DID is no team
            "1785744600.105": ("answered", 9, 120, "202", 0, "right_first_time"),
            # phone 203 in context LocalSets dialled a mobile through the trunk
            "1785745200.110": None,
            # caller name in Latin-1; wait = duration 67 - billsec 60, talk = billsec
            "1785745800.112": ("answered", 7, 60, "201", 0, "right_first_time"),
            # queue answered by a static member: no pickup time in the CDR, so no wait/talk
            "1785746400.114": ("answered", None, None, "reception", 0, "right_first_time"),
        },
    )
    assert tally["skipped: Local-channel halves and dialled-channel rows of no call"] == 3
    assert tally["Local-channel halves and dialled-channel rows read with their call"] == 2
    assert tally[UNTIMED] == 1


def test_freepbx_18_local_halves_make_no_events_of_their_own(freepbx_18) -> None:
    calls, _ = freepbx_18
    queue = calls["1785744000.101"]
    assert _types(queue) == ["call_started", "queue_joined", "answered", "call_ended"]
    ring_group = calls["1785744600.105"]
    assert _types(ring_group) == ["call_started", "ringing", "answered", "call_ended"]
    assert {e.team for e in ring_group if e.team} == {"202"}
    untimed = next(e for e in calls["1785746400.114"] if e.type is EventType.answered)
    assert untimed.time_known is False


def test_freepbx_18_caller_name_in_latin1_is_read_and_outbound_names_no_team(freepbx_18):
    calls, _ = freepbx_18
    assert calls["1785745800.112"][0].caller == "07700900404"
    outbound = calls["1785745200.110"]
    assert outbound[0].direction == "outbound" and outbound[0].caller == "203"
    assert all(e.team is None for e in outbound)


# --- Asterisk 13+ / FreePBX, cdr_csv with linkedid (21 columns) ---


def test_freepbx_21_column_calls_by_hand() -> None:
    tally: Counter[str] = Counter()
    calls = _events(read_asterisk_cdr(_lines("cdr_freepbx_21.csv"), PRACTICE, RULES, tally=tally))
    assert _types(calls["1785748800.201"]) == [
        "call_started",
        "queue_joined",
        "answered",
        "call_ended",
    ]
    _check(
        _classified(calls),
        {
            # one linkedid: 202's half not answered, 201's half picked up at 10:00:41 and was
            # optimised away at 10:00:43; the caller's queue leg ran 10:00:00-10:04:00
            "1785748800.201": ("answered", 41, 199, "reception", 0, "right_first_time"),
            # phone 204 in context "phones", caller id set to the surgery's number, dialled out
            "1785749400.207": None,
            # 201 answered after 5 s; then blind-transferred to a mobile: a team the file
            # does not name (never the number); talk runs to the end of the last leg
            "1785750000.209": ("answered", 5, 310, "201", 1, "transferred"),
            # the IVR answered the caller at 10:30:00, then Dial(202): the leg's answer is the
            # IVR's, so the pickup time is not in the CDR
            "1785750600.212": ("answered", None, None, "202", 0, "right_first_time"),
        },
    )
    assert tally[UNTIMED] == 1
    transferred = next(e for e in calls["1785750000.209"] if e.type is EventType.transferred)
    assert transferred.team == "unknown"


# --- cdr_custom's stock Master.csv mapping (19 columns, clid first) ---


def test_cdr_custom_stock_layout_by_hand() -> None:
    calls = _events(read_asterisk_cdr(_lines("cdr_custom_Master.csv"), PRACTICE, RULES))
    _check(
        _classified(calls),
        {
            "1785753600.301": ("answered", 10, 120, "201", 0, "right_first_time"),
            # 202 rang 20 s, then voicemail: missed, wait to the voicemail
            "1785753900.303": ("missed", 20, None, None, 0, "unrouted"),
            # the ",f" mapping: duration 94.512, billsec 90.105 (whole seconds, rounded down)
            "1785754200.305": ("answered", 4, 90, "203", 0, "right_first_time"),
        },
    )
    assert calls["1785753600.301"][0].caller == "07700900111"


# --- queue_log with NUL padding after a crash ---


def test_nul_padded_queue_log_by_hand() -> None:
    tally: Counter[str] = Counter()
    calls = _events(read_queue_log(_lines("queue_log_nul", tally), PRACTICE, RULES))
    assert tally == {"NUL padding stripped (bytes)": 700, "NUL padding stripped (lines)": 1}
    _check(
        _classified(calls),
        {
            "1785751200.1": ("answered", 30, 169, "reception", 0, "right_first_time"),
            "1785751560.3": ("missed", 51, None, None, 0, "unrouted"),  # the line after the NULs
        },
    )


# --- FreeSWITCH mod_json_cdr, bridged calls ---


def test_freeswitch_bridged_calls_by_hand() -> None:
    tally: Counter[str] = Counter()
    lines = _lines("freeswitch_bridged.ndjson")
    calls = _events(read_freeswitch_json(lines, PRACTICE, RULES, tally=tally))
    _check(
        _classified(calls),
        {
            # bridged to sofia/internal/1002 (reception) at 7 s; no dialed_user in the record
            "f5b1c0de-0001": ("answered", 7, 180, "reception", 0, "right_first_time"),
            # DIALSTATUS=SUCCESS, answer_epoch only: answered; team from the last callflow
            "f5b1c0de-0002": ("answered", 12, 60, "1003", 0, "right_first_time"),
            # phone 1004 in context "phones" dialled a mobile
            "f5b1c0de-0003": None,
            # forwarded to a mobile through the gateway: answered, team not a number
            "f5b1c0de-0004": ("answered", 8, 100, "unknown", 0, "right_first_time"),
            # answer_epoch alone is the IVR, not a person
            "f5b1c0de-0005": ("ended_in_ivr", None, None, None, 0, "unrouted"),
        },
    )
    assert tally["skipped: b-leg (its call is read from the a-leg)"] == 1
