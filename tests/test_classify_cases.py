"""Hand-worked cases: every rule and boundary of docs/classification.md, one row each.

Each case is a call script (seconds after the start, event type, fields) and the fields a
person works out by hand; the comment shows the arithmetic. Times are UTC; August and late
October before the 25th are BST (UTC+1), November to late March GMT (UTC+0).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from classify_support import KEY, PRACTICE, call

from models.events import EventType
from streams.core.classify import classify_call
from streams.core.pseudonymise import caller_key
from streams.core.rules import Rules, load_rules

RULES = load_rules()
MON = "2026-08-03T09:00:00Z"  # Monday 3 August 2026, 10:00 BST: core 10-18:30

CASES: list[tuple[str, str, list, dict[str, Any]]] = [
    # ---- wait buckets (answered; wait = answered - queue_joined) ----
    (
        "wait 0",
        MON,
        [(0, "call_started"), (5, "queue_joined"), (5, "answered"), (65, "call_ended")],
        # 5 - 5 = 0 s -> bucket "0"; talk 65 - 5 = 60 s -> "1 minute or less"
        {
            "outcome": "answered",
            "wait_s": 0,
            "wait_bucket": "0",
            "talk_s": 60,
            "duration_bucket": "1 minute or less",
        },
    ),
    (
        "wait 30",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (40, "answered"), (101, "call_ended")],
        # 40 - 10 = 30 s -> "1_30" (upper bound inclusive); talk 101 - 40 = 61 -> "1 to 2 minutes"
        {"wait_s": 30, "wait_bucket": "1_30", "talk_s": 61, "duration_bucket": "1 to 2 minutes"},
    ),
    (
        "wait 31",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (41, "answered"), (161, "call_ended")],
        # 41 - 10 = 31 s -> "31_60"; talk 161 - 41 = 120 -> "1 to 2 minutes"
        {"wait_s": 31, "wait_bucket": "31_60", "talk_s": 120, "duration_bucket": "1 to 2 minutes"},
    ),
    (
        "wait 300",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (310, "answered"), (431, "call_ended")],
        # 310 - 10 = 300 s -> "241_300"; talk 431 - 310 = 121 -> "2 to 5 minutes"
        {
            "wait_s": 300,
            "wait_bucket": "241_300",
            "talk_s": 121,
            "duration_bucket": "2 to 5 minutes",
        },
    ),
    (
        "wait 301",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (311, "answered"), (611, "call_ended")],
        # 311 - 10 = 301 s -> ">300"; talk 611 - 311 = 300 -> "2 to 5 minutes"
        {"wait_s": 301, "wait_bucket": ">300", "talk_s": 300, "duration_bucket": "2 to 5 minutes"},
    ),
    (
        "talk 301",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (70, "answered"), (371, "call_ended")],
        # wait 70 - 10 = 60 -> "31_60"; talk 371 - 70 = 301 -> "over 5 minutes"
        {"wait_s": 60, "wait_bucket": "31_60", "talk_s": 301, "duration_bucket": "over 5 minutes"},
    ),
    (
        "wait 61",
        MON,
        [(0, "call_started"), (0, "queue_joined"), (61, "answered"), (62, "call_ended")],
        # 61 - 0 = 61 -> "61_90"; talk 1 s -> "1 minute or less"
        {"wait_s": 61, "wait_bucket": "61_90", "talk_s": 1},
    ),
    (
        "wait 240",
        MON,
        [(0, "call_started"), (0, "queue_joined"), (240, "answered"), (300, "call_ended")],
        # 240 -> "211_240"
        {"wait_s": 240, "wait_bucket": "211_240"},
    ),
    (
        "wait 241",
        MON,
        [(0, "call_started"), (0, "queue_joined"), (241, "answered"), (300, "call_ended")],
        # 241 -> "241_300" (the one 60 s wide bucket)
        {"wait_s": 241, "wait_bucket": "241_300"},
    ),
    (
        "fractions rounded down",
        MON,
        [(0, "call_started"), (10.9, "queue_joined"), (41.1, "answered"), (101.0, "call_ended")],
        # 41.1 - 10.9 = 30.2 -> 30; talk 101.0 - 41.1 = 59.9 -> 59
        {"wait_s": 30, "wait_bucket": "1_30", "talk_s": 59},
    ),
    (
        "wait from ringing when no queue",
        MON,
        [(0, "call_started"), (8, "ringing"), (20, "answered"), (30, "call_ended")],
        # no queue_joined: 20 - 8 = 12
        {"outcome": "answered", "wait_s": 12, "wait_bucket": "1_30", "talk_s": 10},
    ),
    (
        "queue wins over earlier ringing",
        MON,
        [
            (0, "call_started"),
            (3, "ringing"),
            (9, "queue_joined"),
            (20, "answered"),
            (30, "call_ended"),
        ],
        # wait from the first queue_joined even if something rang before: 20 - 9 = 11
        {"wait_s": 11},
    ),
    (
        "direct call answered at once",
        MON,
        [(0, "call_started"), (12, "answered"), (40, "call_ended")],
        # neither queue nor ringing: wait from the call start, 12 - 0 = 12
        {"outcome": "answered", "wait_s": 12, "talk_s": 28, "routing": "right_first_time"},
    ),
    (
        "answered beats callback request",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (30, "callback_requested"),
            (50, "answered"),
            (80, "call_ended"),
        ],
        # answered is checked first: wait 50 - 5 = 45
        {"outcome": "answered", "wait_s": 45, "wait_bucket": "31_60"},
    ),
    # ---- time bands and core hours (local = Europe/London) ----
    (
        "18:29:59 local",
        "2026-08-03T17:29:59Z",
        [(0, "call_started"), (1, "call_ended")],
        # 17:29:59Z + 1 h BST = 18:29:59 -> last second of core
        {
            "time_band": "18:00-18:29",
            "core_category": "Core_10_1830",
            "local_date": date(2026, 8, 3),
        },
    ),
    (
        "18:30:00 local",
        "2026-08-03T17:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # 17:30:00Z + 1 h = 18:30:00 -> out of core
        {"time_band": "18:30-23:59", "core_category": "Non-Core"},
    ),
    (
        "07:59:59 local (GMT)",
        "2026-11-02T07:59:59Z",
        [(0, "call_started"), (1, "call_ended")],
        # Monday 2 Nov 2026, GMT: local = UTC = 07:59:59
        {"time_band": "06:00-07:59", "core_category": "Non-Core"},
    ),
    (
        "08:00:00 local (GMT)",
        "2026-11-02T08:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"time_band": "08:00-09:59", "core_category": "Core_8_10"},
    ),
    (
        "09:59:59 vs 10:00",
        "2026-11-02T10:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"time_band": "10:00-11:59", "core_category": "Core_10_1830"},
    ),
    (
        "August 07:30Z is 08:30",
        "2026-08-03T07:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"time_band": "08:00-09:59", "core_category": "Core_8_10"},
    ),
    (
        "after midnight local is the next day",
        "2026-08-03T23:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # 23:30Z + 1 h = 00:30 on 4 August
        {"local_date": date(2026, 8, 4), "time_band": "00:00-05:59", "core_category": "Non-Core"},
    ),
    # ---- DST: clocks forward Sun 29 Mar 2026 01:00Z, back Sun 25 Oct 2026 01:00Z ----
    (
        "Fri before spring DST, still GMT",
        "2026-03-27T07:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # GMT: 07:30 local -> before core
        {"time_band": "06:00-07:59", "core_category": "Non-Core"},
    ),
    (
        "29 Mar 00:59:59Z GMT",
        "2026-03-29T00:59:59Z",
        [(0, "call_started"), (1, "call_ended")],
        {"local_date": date(2026, 3, 29), "time_band": "00:00-05:59"},
    ),
    (
        "Mon after spring DST, BST",
        "2026-03-30T07:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # BST: 07:30Z = 08:30 local
        {"time_band": "08:00-09:59", "core_category": "Core_8_10"},
    ),
    (
        "Fri before autumn DST, BST",
        "2026-10-23T17:29:59Z",
        [(0, "call_started"), (1, "call_ended")],
        # BST: 18:29:59 local
        {"time_band": "18:00-18:29", "core_category": "Core_10_1830"},
    ),
    (
        "Mon after autumn DST, GMT",
        "2026-10-26T17:29:59Z",
        [(0, "call_started"), (1, "call_ended")],
        # GMT: 17:29:59 local
        {"time_band": "16:00-17:59", "core_category": "Core_10_1830"},
    ),
    (
        "Mon after autumn DST 07:30Z",
        "2026-10-26T07:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"time_band": "06:00-07:59", "core_category": "Non-Core"},
    ),
    (
        "25 Oct repeated hour, first 01:30 (BST)",
        "2026-10-25T00:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"local_date": date(2026, 10, 25), "time_band": "00:00-05:59"},
    ),
    (
        "25 Oct 23:30Z is GMT, same day",
        "2026-10-25T23:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # after the change 23:30Z = 23:30 local, still the 25th
        {"local_date": date(2026, 10, 25), "time_band": "18:30-23:59"},
    ),
    # ---- weekends and England bank holidays ----
    (
        "Saturday",
        "2026-08-01T09:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # Sat 1 Aug, 10:00 BST: in a core band but not a core day
        {"time_band": "10:00-11:59", "core_category": "Non-Core"},
    ),
    (
        "Late summer bank holiday",
        "2026-08-31T09:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"time_band": "10:00-11:59", "core_category": "Non-Core"},
    ),
    (
        "Christmas substitute Mon 27 Dec 2027",
        "2027-12-27T10:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        # Christmas Day 2027 is a Saturday: Monday 27th is the substitute
        {"core_category": "Non-Core", "time_band": "10:00-11:59"},
    ),
    (
        "Boxing Day substitute Tue 28 Dec 2027",
        "2027-12-28T08:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"core_category": "Non-Core", "time_band": "08:00-09:59"},
    ),
    (
        "Wed 29 Dec 2027 is a working day",
        "2027-12-29T08:30:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"core_category": "Core_8_10"},
    ),
    (
        "Boxing Day substitute Mon 28 Dec 2026",
        "2026-12-28T11:00:00Z",
        [(0, "call_started"), (1, "call_ended")],
        {"core_category": "Non-Core"},
    ),
    # ---- outcomes other than answered ----
    (
        "voicemail is missed",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (70, "voicemail"), (100, "call_ended")],
        # wait ends at voicemail: 70 - 10 = 60 -> "31_60"; not answered: no talk
        {
            "outcome": "missed",
            "wait_s": 60,
            "wait_bucket": "31_60",
            "talk_s": None,
            "duration_bucket": None,
            "routing": "unrouted",
        },
    ),
    (
        "hung up in queue",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (45, "call_ended")],
        # missed, wait to the end: 45 - 10 = 35
        {"outcome": "missed", "wait_s": 35, "wait_bucket": "31_60"},
    ),
    (
        "rang, nobody answered",
        MON,
        [(0, "call_started"), (5, "ringing"), (20, "call_ended")],
        # expected a person (ringing): missed, 20 - 5 = 15
        {"outcome": "missed", "wait_s": 15, "wait_bucket": "1_30"},
    ),
    (
        "voicemail without queue",
        MON,
        [(0, "call_started"), (30, "voicemail"), (90, "call_ended")],
        # no queue, no ringing: from the start, 30 - 0 = 30
        {"outcome": "missed", "wait_s": 30, "wait_bucket": "1_30"},
    ),
    (
        "callback requested, made after the end",
        MON,
        [
            (0, "call_started"),
            (10, "queue_joined"),
            (130, "callback_requested"),
            (140, "call_ended"),
            (3600, "callback_made", {"outcome": "answered"}),
        ],
        # wait 130 - 10 = 120 -> "91_120"; callback wait 3600 - 130 = 3470
        {
            "outcome": "callback_requested",
            "wait_s": 120,
            "wait_bucket": "91_120",
            "callback_made": True,
            "callback_answered": True,
            "callback_wait_s": 3470,
            "complete": True,
            "ended_at": datetime(2026, 8, 3, 9, 2, 20, tzinfo=UTC),
        },
    ),
    (
        "callback requested, none made yet",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (40, "callback_requested"), (41, "call_ended")],
        {
            "outcome": "callback_requested",
            "wait_s": 30,
            "callback_made": False,
            "callback_answered": None,
            "callback_wait_s": None,
        },
    ),
    (
        "callbacks unanswered",
        MON,
        [
            (0, "call_started"),
            (10, "queue_joined"),
            (40, "callback_requested"),
            (41, "call_ended"),
            (600, "callback_made", {"outcome": "unanswered"}),
            (900, "callback_made", {"outcome": "unanswered"}),
        ],
        # two attempts, neither answered; wait to the FIRST: 600 - 40 = 560
        {"callback_made": True, "callback_answered": False, "callback_wait_s": 560},
    ),
    (
        "IVR divert is ended_in_ivr and signposted",
        MON,
        [
            (0, "call_started"),
            (5, "ivr_option", {"option": "2"}),
            (9, "ivr_divert", {"target": "pharmacy"}),
            (12, "call_ended"),
        ],
        {
            "outcome": "ended_in_ivr",
            "wait_s": None,
            "wait_bucket": None,
            "routing": "signposted",
            "divert_target": "pharmacy",
            "request_type": "prescriptions",
        },
    ),
    (
        "hung up in the menu",
        MON,
        [(0, "call_started"), (5, "ivr_option"), (20, "call_ended")],
        # option "1" -> appointments by the default rules; no queue/person: ended in IVR
        {
            "outcome": "ended_in_ivr",
            "routing": "unrouted",
            "request_type": "appointments",
            "wait_s": None,
        },
    ),
    # ---- incomplete calls ----
    (
        "incomplete, still queueing",
        MON,
        [(0, "call_started"), (10, "queue_joined")],
        # missed so far, but the wait has no end yet
        {
            "complete": False,
            "outcome": "missed",
            "wait_s": None,
            "wait_bucket": None,
            "ended_at": None,
        },
    ),
    (
        "incomplete, answered",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (25, "answered")],
        # wait known (25 - 10), talk not (no end)
        {
            "complete": False,
            "outcome": "answered",
            "wait_s": 15,
            "talk_s": None,
            "duration_bucket": None,
        },
    ),
    (
        "no call_started: start is the earliest event",
        MON,
        [(20, "queue_joined"), (50, "answered"), (90, "call_ended")],
        # started_at = 09:00:20Z; inbound by default; no caller
        {
            "started_at": datetime(2026, 8, 3, 9, 0, 20, tzinfo=UTC),
            "inbound": True,
            "outcome": "answered",
            "wait_s": 30,
            "caller_key": None,
        },
    ),
    (
        "incomplete, reached voicemail",
        MON,
        [(0, "call_started"), (10, "queue_joined"), (55, "voicemail")],
        # the wait ends at voicemail even before call_ended: 55 - 10 = 45
        {"complete": False, "outcome": "missed", "wait_s": 45, "wait_bucket": "31_60"},
    ),
    # ---- direction, caller ----
    (
        "outbound",
        MON,
        [
            (0, "call_started", {"direction": "outbound"}),
            (5, "ringing"),
            (9, "answered"),
            (70, "call_ended"),
        ],
        {
            "inbound": False,
            "outcome": None,
            "wait_s": None,
            "wait_bucket": None,
            "talk_s": None,
            "duration_bucket": None,
            "complete": True,
        },
    ),
    (
        "withheld",
        MON,
        [(0, "call_started", {"caller": "Anonymous"}), (1, "call_ended")],
        {"caller_key": None},
    ),
    # ---- routing ----
    (
        "transfer within the same team",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (10, "answered", {"team": "reception"}),
            (40, "transferred", {"team": "reception"}),
            (90, "call_ended"),
        ],
        # transferred to a colleague in the first team: still right first time
        {"routing": "right_first_time", "transfers": 1, "first_team": "reception"},
    ),
    (
        "transfer to another team",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (10, "answered", {"team": "reception"}),
            (40, "transferred", {"team": "results"}),
            (90, "call_ended"),
        ],
        {"routing": "transferred", "transfers": 1, "first_team": "reception", "talk_s": 80},
    ),
    (
        "transfer to the same team spelt another way",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (10, "answered", {"team": "reception"}),
            (40, "transferred", {"team": "Reception"}),
            (90, "call_ended"),
        ],
        # the rules match team names ignoring case: one team, still right first time
        {"routing": "right_first_time", "transfers": 1, "first_team": "reception"},
    ),
    (
        "answered, then transferred into a queue",
        MON,
        [
            (0, "call_started"),
            (5, "ringing", {"team": "reception"}),
            (20, "answered", {"team": "reception"}),
            (50, "transferred", {"team": "prescriptions"}),
            (51, "queue_joined"),
            (90, "answered", {"team": "prescriptions"}),
            (200, "call_ended"),
        ],
        # the wait ends at the first answer: 20 - 5 (ringing) = 15 s -> "1_30", not the
        # later queue (51 > 20); talk 200 - 20 = 180 -> "2 to 5 minutes"
        {
            "outcome": "answered",
            "wait_s": 15,
            "wait_bucket": "1_30",
            "talk_s": 180,
            "routing": "transferred",
            "first_team": "reception",
        },
    ),
    (
        "answered at once, then transferred into a queue",
        MON,
        [
            (0, "call_started"),
            (3, "answered", {"team": "reception"}),
            (30, "transferred", {"team": "results"}),
            (31, "queue_joined"),
            (60, "call_ended"),
        ],
        # no queue or ringing before the answer: the wait runs from the start, 3 s
        {"outcome": "answered", "wait_s": 3, "wait_bucket": "1_30", "talk_s": 57},
    ),
    (
        "answered and diverted: answered wins",
        MON,
        [
            (0, "call_started"),
            (3, "ivr_divert"),
            (5, "queue_joined"),
            (10, "answered"),
            (20, "call_ended"),
        ],
        {"routing": "right_first_time", "divert_target": "pharmacy", "outcome": "answered"},
    ),
    (
        "answered at a time the phone system did not record (a CDR queue call)",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (5, "answered", {"time_known": False}),
            (90, "call_ended"),
        ],
        # answered, but wait and talk are unknown, not 0 s and 85 s
        {"outcome": "answered", "wait_s": None, "wait_bucket": None, "talk_s": None},
    ),
    (
        "not answered, not diverted",
        MON,
        [(0, "call_started"), (5, "queue_joined"), (20, "call_ended")],
        {"routing": "unrouted", "first_team": None, "transfers": 0},
    ),
    (
        "last known option wins",
        MON,
        [
            (0, "call_started"),
            (2, "ivr_option", {"option": "1"}),
            (4, "ivr_option", {"option": "3"}),
            (6, "ivr_option", {"option": "8"}),
            (8, "call_ended"),
        ],
        # 1 -> appointments, 3 -> results, 8 unknown: the last KNOWN one is results
        {"request_type": "results"},
    ),
    (
        "event's own request_type beats the rules",
        MON,
        [
            (0, "call_started"),
            (2, "ivr_option", {"option": "1", "request_type": "urgent"}),
            (8, "call_ended"),
        ],
        {"request_type": "urgent"},
    ),
    (
        "unknown option only",
        MON,
        [(0, "call_started"), (2, "ivr_option", {"option": "#"}), (8, "call_ended")],
        {"request_type": None},
    ),
    # ---- the end of the call is its last call_ended (one per leg from some systems) ----
    (
        "a leg's end before the transfer's answer",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (25, "answered", {"team": "reception"}),
            (65, "transferred", {"team": "results"}),
            (65, "call_ended"),
            (95, "answered", {"team": "results"}),
            (305, "call_ended"),
        ],
        # talk 305 - 25 = 280 s (not 65 - 25 = 40) -> "2 to 5 minutes"
        {"talk_s": 280, "duration_bucket": "2 to 5 minutes", "routing": "transferred"},
    ),
    (
        "missed, two ends",
        MON,
        [(0, "call_started"), (5, "ringing"), (20, "call_ended"), (50, "call_ended")],
        # the caller hung up at 50: waited 50 - 5 = 45 s -> "31_60"
        {"outcome": "missed", "wait_s": 45, "wait_bucket": "31_60"},
    ),
    # ---- direction: call_started's, else the first event that gives one ----
    (
        "every event outbound, no call_started",
        MON,
        [
            (0, "ringing", {"direction": "outbound"}),
            (5, "answered", {"direction": "outbound"}),
            (60, "call_ended", {"direction": "outbound"}),
        ],
        {"inbound": False, "outcome": None, "wait_s": None, "talk_s": None},
    ),
    (
        "call_started says nothing, a transfer out says outbound",
        MON,
        [
            (0, "call_started"),
            (5, "queue_joined"),
            (10, "answered"),
            (40, "transferred", {"team": "district nurses", "direction": "outbound"}),
            (60, "call_ended"),
        ],
        {"inbound": True, "outcome": "answered", "wait_s": 5},
    ),
    (
        "call_started says inbound, a later event outbound",
        MON,
        [
            (0, "call_started", {"direction": "inbound"}),
            (5, "answered", {"direction": "outbound"}),
            (60, "call_ended"),
        ],
        {"inbound": True, "outcome": "answered"},
    ),
]


@pytest.mark.parametrize(
    ("start", "steps", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hand_worked_case(start: str, steps: list, expected: dict[str, Any]) -> None:
    got = classify_call(call(start, steps), RULES).model_dump()
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(("start", "steps"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_every_case_out_of_order_and_repeated(start: str, steps: list) -> None:
    events = call(start, steps)
    arrived = list(reversed(events)) + events[::2]  # last event first, every other one twice
    assert classify_call(arrived, RULES) == classify_call(events, RULES)


def test_every_field_of_one_full_call() -> None:
    """One call checked field by field, so no field goes unchecked anywhere."""
    events = call(
        MON,
        [
            (0, "call_started"),
            (4, "ivr_option", {"option": "2"}),
            (7, "queue_joined"),
            (9, "ringing"),
            (52, "answered", {"agent": "204"}),
            (100, "transferred", {"team": "prescriptions"}),
            (200, "call_ended"),
        ],
    )
    got = classify_call(events, RULES).model_dump()
    assert got == {
        "practice": PRACTICE,
        "call_id": "c1",
        "started_at": datetime(2026, 8, 3, 9, 0, tzinfo=UTC),
        "local_date": date(2026, 8, 3),
        "time_band": "10:00-11:59",
        "core_category": "Core_10_1830",
        "inbound": True,
        "outcome": "answered",
        "wait_s": 45,
        "wait_bucket": "31_60",  # 52 - 7
        "talk_s": 148,
        "duration_bucket": "2 to 5 minutes",  # 200 - 52
        "callback_made": False,
        "request_type": "prescriptions",
        "first_team": "reception",
        "transfers": 1,
        "routing": "transferred",
        "caller_key": caller_key(KEY, PRACTICE, "+447700900123"),
        "complete": True,
        "rules_version": RULES.version,
        "ended_at": datetime(2026, 8, 3, 9, 3, 20, tzinfo=UTC),
        "callback_answered": None,
        "callback_wait_s": None,
        "divert_target": None,
        "events": 7,
        "first_agent": "204",
        "answered_at": datetime(2026, 8, 3, 9, 0, 52, tzinfo=UTC),
    }


ANSWERED = [(0, "call_started"), (10, "queue_joined"), (40, "answered"), (100, "call_ended")]


def test_duplicates_and_any_order_change_nothing() -> None:
    events = call(MON, ANSWERED)
    expected = classify_call(events, RULES)
    shuffled = events * 3
    random.Random(7).shuffle(shuffled)
    assert classify_call(shuffled, RULES) == expected
    assert expected.events == 4


def test_the_first_copy_of_an_event_id_counts() -> None:
    events = call(MON, ANSWERED)
    # a resend of the answered event (same event_id) with another time is ignored
    late_copy = events[2].model_copy(update={"at": events[2].at.replace(minute=30)})
    got = classify_call([*events, late_copy], RULES)
    assert got.wait_s == 30 and got.events == 4


def test_equal_times_follow_the_life_cycle() -> None:
    # answered and transferred at the same second: transferred after answered, so it counts
    events = call(
        MON,
        [
            (0, "call_started"),
            (5, "answered", {"team": "reception"}),
            (5, "transferred", {"team": "results"}),
            (9, "call_ended"),
        ],
    )
    assert classify_call(list(reversed(events)), RULES).routing == "transferred"


def test_callback_made_after_the_end_updates_the_call() -> None:
    before = call(
        MON,
        [(0, "call_started"), (10, "queue_joined"), (20, "callback_requested"), (21, "call_ended")],
    )
    late = call(MON, [(900, "callback_made", {"event_id": "cb"})])
    assert classify_call(before, RULES).callback_made is False
    after = classify_call([*before, *late], RULES)
    assert (after.callback_made, after.callback_wait_s, after.outcome) == (
        True,
        880,
        "callback_requested",
    )


def test_request_types_come_from_the_rules_given() -> None:
    rules = Rules(version="t-7", ivr_options={"1": "results"})
    events = call(MON, [(0, "call_started"), (2, "ivr_option", {"option": "1"}), (3, "call_ended")])
    got = classify_call(events, rules)
    assert (got.request_type, got.rules_version) == ("results", "t-7")


def test_the_same_number_spelt_differently_is_one_caller() -> None:
    keys = {
        classify_call(
            call(MON, [(0, "call_started", {"caller": n}), (1, "call_ended")]), RULES
        ).caller_key
        for n in ("07700 900123", "07700900123", "+44 7700 900123")
    }
    assert len(keys) == 1 and None not in keys


def test_no_events_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        classify_call([], RULES)


def test_events_of_two_calls_are_an_error() -> None:
    mixed = call(MON, ANSWERED) + call(MON, ANSWERED, call_id="c2")
    with pytest.raises(ValueError, match="c2"):
        classify_call(mixed, RULES)


def test_every_type_is_covered_by_a_case() -> None:
    used = {step[1] for _, _, steps, _ in CASES for step in steps}
    assert used == {t.value for t in EventType}
