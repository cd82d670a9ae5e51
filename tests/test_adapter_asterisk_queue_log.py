"""Asterisk queue_log adapter on a hand-written log whose numbers were counted by hand.

The fixture (tests/fixtures/adapters/queue_log) holds nine calls, system lines, an unknown
verb and two malformed lines; each expectation below is read straight off the file.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.events import CallEvent, EventType
from streams.core.rules import Rules
from streams.ingest.adapters.asterisk_queue_log import read_queue_log
from streams.ingest.adapters.common import AdapterLine

FIXTURE = Path(__file__).parent / "fixtures" / "adapters" / "queue_log"
PRACTICE = "A12345"


#: Practice rules: team -> role, ``admin`` for teams they do not list.
RULES = Rules(
    version="t",
    teams={"reception": {"role": "care_navigator"}, "nurses": {"role": "nurse"}},
    default_role="admin",
)


def _read(text: str | None = None, **kwargs) -> tuple[list[AdapterLine], Counter[str]]:
    tally: Counter[str] = Counter()
    lines = (text if text is not None else FIXTURE.read_text()).splitlines(keepends=True)
    out = list(read_queue_log(lines, PRACTICE, RULES, tally=tally, **kwargs))
    return out, tally


def _by_call(out: list[AdapterLine]) -> dict[str, list[CallEvent]]:
    calls: dict[str, list[CallEvent]] = {}
    for item in out:
        if item.event is not None:
            calls.setdefault(item.event.call_id, []).append(item.event)
    return calls


def _first(events: list[CallEvent], kind: EventType) -> CallEvent:
    return next(e for e in events if e.type is kind)


def _seconds(a: CallEvent, b: CallEvent) -> float:
    return (b.at - a.at).total_seconds()


@pytest.fixture(scope="module")
def parsed() -> tuple[list[AdapterLine], Counter[str]]:
    return _read(callback_keys={"1"})


def test_every_call_is_read_and_only_the_malformed_lines_are_errors(parsed) -> None:
    out, _ = parsed
    errors = [(o.line, o.error) for o in out if o.error]
    assert errors == [
        (26, "expected epoch|callid|queue|agent|EVENT|data…, got 1 field(s)"),
        (29, "CONNECT: field 'holdtime' (data1) is not a whole number"),
    ]
    assert sorted(_by_call(out)) == [
        "1785740400.11",
        "1785740405.13",
        "1785740410.15",
        "1785740460.17",
        "1785740520.19",
        "1785740600.21",
        "1785740650.23",
        "1785740700.25",
        "1785740800.27",
    ]
    assert all(o.event.practice == PRACTICE for o in out if o.event)


def test_system_lines_and_unknown_verbs_are_counted_not_dropped_silently(parsed) -> None:
    _, tally = parsed
    assert tally["skipped: ADDMEMBER (system line)"] == 3
    assert tally["skipped: QUEUESTART (system line)"] == 1
    assert tally["skipped: AGENTLOGIN (system line)"] == 1
    assert tally["skipped: PAUSE (system line)"] == 1
    assert tally["skipped: CONFIGRELOAD (system line)"] == 1
    assert tally["skipped: unknown verb FOOBAR"] == 1
    assert tally["calls still open at the end of the file (incomplete)"] == 1


def test_answered_call_reproduces_holdtime_and_calltime(parsed) -> None:
    events = _by_call(parsed[0])["1785740400.11"]
    assert [e.type.value for e in events] == [
        "call_started",
        "queue_joined",
        "ringing",
        "answered",
        "call_ended",
    ]
    started = _first(events, EventType.call_started)
    assert started.at == datetime(2026, 8, 3, 7, 0, 0, tzinfo=UTC)  # the DID line, earlier
    assert started.caller == "07700900123"
    joined, answered = _first(events, EventType.queue_joined), _first(events, EventType.answered)
    assert _seconds(joined, answered) == 42  # CONNECT holdtime
    assert _seconds(answered, _first(events, EventType.call_ended)) == 185  # calltime
    assert (answered.team, answered.role) == ("reception", "care_navigator")
    ringing = _first(events, EventType.ringing)
    assert ringing.at == datetime(2026, 8, 3, 7, 0, 8, tzinfo=UTC)  # 15000 ms before the line


def test_queue_join_is_placed_by_holdtime_when_the_epochs_disagree(parsed) -> None:
    events = _by_call(parsed[0])["1785740460.17"]
    joined, answered = _first(events, EventType.queue_joined), _first(events, EventType.answered)
    assert _seconds(joined, answered) == 12  # ENTERQUEUE epoch is 13 s earlier; Asterisk says 12
    assert _first(events, EventType.call_started).at <= joined.at
    assert parsed[1]["adjusted: queue join timed from CONNECT wait"] == 1


def test_abandoned_anonymous_call_from_the_14_two_field_enterqueue(parsed) -> None:
    events = _by_call(parsed[0])["1785740405.13"]
    assert _first(events, EventType.call_started).caller == "withheld"
    assert not any(e.type is EventType.answered for e in events)
    waited = _seconds(_first(events, EventType.queue_joined), _first(events, EventType.call_ended))
    assert waited == 95  # ABANDON waittime


@pytest.mark.parametrize(("call_id", "wait"), [("1785740410.15", 300), ("1785740600.21", 40)])
def test_timeout_and_empty_queue_exits_are_missed_with_their_waittime(parsed, call_id, wait):
    events = _by_call(parsed[0])[call_id]
    assert not any(e.type is EventType.answered for e in events)
    assert _seconds(_first(events, EventType.queue_joined), events[-1]) == wait
    assert events[-1].type is EventType.call_ended


def test_blind_transfer_ends_the_call_with_its_calltime(parsed) -> None:
    events = _by_call(parsed[0])["1785740460.17"]
    transferred = _first(events, EventType.transferred)
    assert (transferred.team, transferred.role) == ("2001", "admin")  # default role
    answered, ended = _first(events, EventType.answered), _first(events, EventType.call_ended)
    assert _seconds(answered, ended) == 64


def test_transfer_into_another_queue_continues_the_same_call(parsed) -> None:
    events = _by_call(parsed[0])["1785740520.19"]
    kinds = [e.type.value for e in events]
    assert kinds.count("call_started") == 1
    assert kinds.count("call_ended") == 1  # the TRANSFER line's end was withdrawn
    transferred = _first(events, EventType.transferred)
    assert (transferred.team, transferred.role) == ("nurses", "nurse")
    answered = _first(events, EventType.answered)
    assert _seconds(_first(events, EventType.queue_joined), answered) == 5
    assert _seconds(answered, events[-1]) == 30 + 20 + 120  # first answer to final end
    assert parsed[1]["queue exit followed by another queue (call continues)"] == 1


def test_attended_transfer_link_form_reads_numbers_from_the_right(parsed) -> None:
    events = _by_call(parsed[0])["1785740700.25"]
    transferred = _first(events, EventType.transferred)
    assert transferred.team == "unknown"
    assert _seconds(_first(events, EventType.answered), events[-1]) == 45


def test_exit_with_a_callback_key_requests_a_callback(parsed) -> None:
    events = _by_call(parsed[0])["1785740650.23"]
    request = _first(events, EventType.callback_requested)
    assert _seconds(_first(events, EventType.queue_joined), request) == 70


def test_exit_with_another_key_is_a_missed_call() -> None:
    out, tally = _read(callback_keys=())
    events = _by_call(out)["1785740650.23"]
    assert not any(e.type is EventType.callback_requested for e in events)
    assert events[-1].type is EventType.call_ended
    assert tally["EXITWITHKEY with a key that is not a callback key (missed)"] == 1


def test_call_open_at_the_end_of_the_file_stays_incomplete(parsed) -> None:
    events = _by_call(parsed[0])["1785740800.27"]
    assert [e.type.value for e in events] == ["call_started", "queue_joined", "answered"]
    assert events[0].caller == "withheld"  # empty callerid


def test_event_ids_are_unique_and_stable_across_reads(parsed) -> None:
    ids = [o.event.event_id for o in parsed[0] if o.event]
    assert len(ids) == len(set(ids))
    again = [o.event.event_id for o in _read(callback_keys={"1"})[0] if o.event]
    assert again == ids


def test_practice_is_required_and_checked() -> None:
    with pytest.raises(ValueError, match="--practice ODS is required"):
        read_queue_log([], None, RULES)
    with pytest.raises(ValueError, match="ODS code"):
        read_queue_log([], "12345", RULES)


def test_bad_epoch_and_bad_calltime_name_the_field() -> None:
    text = (
        "17857404xx|1.1|q|NONE|ENTERQUEUE||0770|1\n"
        "1785740400|1.2|q|NONE|ENTERQUEUE||0770|1\n"
        "1785740410|1.2|q|PJSIP/1|CONNECT|10|1.3|1\n"
        "1785740420|1.2|q|PJSIP/1|COMPLETECALLER|10|-3|1\n"
        "1785740420|1.2|q|PJSIP/1|TRANSFER|201|ctx|10|x\n"
    )
    out, _ = _read(text)
    errors = [(o.line, o.error) for o in out if o.error]
    assert errors == [
        (1, "field 'epoch' (column 1) is not a Unix time in seconds"),
        (4, "COMPLETECALLER: field 'calltime' (data2) is negative"),
        (5, "TRANSFER: field 'calltime' (data4) is not a whole number"),
    ]


def test_complete_without_calltime_ends_at_the_line_time() -> None:
    text = (
        "1785740400|1.2|q|NONE|ENTERQUEUE||0770|1\n"
        "1785740410|1.2|q|PJSIP/1|CONNECT|10\n"
        "1785740470|1.2|q|PJSIP/1|COMPLETEAGENT|10||1\n"
        "1785740480|9.9|q|PJSIP/1|PAUSEREASON|lunch\n"
    )
    out, tally = _read(text)
    events = _by_call(out)["1.2"]
    assert _seconds(_first(events, EventType.answered), events[-1]) == 60
    assert tally["COMPLETEAGENT without calltime (end at the line's time)"] == 1
    assert tally["skipped: PAUSEREASON (system line)"] == 1


def test_byte_order_mark_and_windows_line_endings_are_tolerated() -> None:
    text = (
        "\ufeff1785740400|1.2|q|NONE|ENTERQUEUE||0770|1\r\n1785740405|1.2|q|NONE|ABANDON|1|1|5\r\n"
    )
    out, _ = _read(text)
    assert [o.event.type.value for o in out] == ["call_started", "queue_joined", "call_ended"]


def test_registered_format_logs_what_was_skipped(caplog) -> None:
    from streams.core.rules import load_rules
    from streams.ingest.formats import read_events

    with caplog.at_level("INFO", logger="callstream.adapters"):
        out = list(read_events(FIXTURE, "asterisk-queue-log", "A12345", load_rules()))
    assert sum(1 for o in out if o.event) == 38
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["asterisk-queue-log: skipped: unknown verb FOOBAR: 1"]
    assert "asterisk-queue-log: skipped: ADDMEMBER (system line): 3" in caplog.messages


def test_a_blind_transfer_to_a_phone_number_names_no_team() -> None:
    out, _ = _read(
        "1785740400|9.1|reception|NONE|ENTERQUEUE||07700900123|1\n"
        "1785740410|9.1|reception|PJSIP/201|CONNECT|10|9.2|3\n"
        "1785740470|9.1|reception|PJSIP/201|BLINDTRANSFER|07700900999|from-internal|10|60|1\n"
    )
    transferred = next(o.event for o in out if o.event and o.event.type is EventType.transferred)
    assert (transferred.team, transferred.role) == ("unknown", "admin")


#: One good line of a call; each case below adds one bad line after it.
_GOOD = "1785740400|7.1|reception|NONE|ENTERQUEUE||07700900555|1\n"
_ANSWERED = _GOOD + "1785740420|7.1|reception|PJSIP/201|CONNECT|20|7.2|3\n"
_NEXT_CALLER = "|7.3|reception|NONE|ENTERQUEUE||07700900556|1\n"
_OUTSIDE_YEARS = (
    "field 'epoch' (column 1) is not a Unix time in seconds between the years 2000 and 2100"
)


@pytest.mark.parametrize(
    ("text", "bad", "error"),
    [
        pytest.param(
            _GOOD + "1785740600000" + _NEXT_CALLER,
            "1785740600000",
            "field 'epoch' (column 1) is in milliseconds, not a Unix time in seconds",
            id="epoch-in-milliseconds",
        ),
        pytest.param(
            _GOOD + "nan" + _NEXT_CALLER,
            "nan",
            "field 'epoch' (column 1) is not a Unix time in seconds",
            id="epoch-nan",
        ),
        pytest.param(
            _GOOD + "inf" + _NEXT_CALLER,
            "inf",
            "field 'epoch' (column 1) is not a Unix time in seconds",
            id="epoch-inf",
        ),
        pytest.param(
            _GOOD + "-99999999999999" + _NEXT_CALLER,
            "99999999999999",
            _OUTSIDE_YEARS,
            id="epoch-huge-negative",
        ),
        pytest.param(
            _GOOD + "1785740420|7.1|reception|PJSIP/201|CONNECT|99999999999999|7.2|3\n",
            "99999999999999",
            "CONNECT: field 'holdtime' (data1) is more than 86400 s (24 h), longer than any call",
            id="connect-holdtime-huge",
        ),
        pytest.param(
            _ANSWERED + "1785740540|7.1|reception|PJSIP/201|COMPLETECALLER|20|99999999999999|1\n",
            "99999999999999",
            "COMPLETECALLER: field 'calltime' (data2) is more than 86400 s (24 h), "
            "longer than any call",
            id="completecaller-calltime-huge",
        ),
        pytest.param(
            _GOOD + "1785740420|7.1|reception|PJSIP/201|RINGNOANSWER|99999999999999999\n",
            "99999999999999999",
            "RINGNOANSWER: field 'ringtime' (data1) is more than 86400000 ms (24 h), "
            "longer than any call",
            id="ringnoanswer-ringtime-huge",
        ),
        pytest.param(
            _GOOD + "1785740420|7.1|reception|NONE|ABANDON|1|1|99999999999999\n",
            "99999999999999",
            "ABANDON: field 'waittime' (data3) is more than 86400 s (24 h), longer than any call",
            id="abandon-waittime-huge",
        ),
    ],
)
def test_an_out_of_range_number_rejects_its_line_alone_naming_the_field(
    text: str, bad: str, error: str
) -> None:
    out, _ = _read(text)
    errors = [(o.line, o.error) for o in out if o.error]
    assert errors == [(len(text.splitlines()), error)]
    assert bad not in error and "07700900" not in error  # no input value, no caller number
    events = _by_call(out)["7.1"]
    assert events[0].type is EventType.call_started
    assert events[0].at == datetime(2026, 8, 3, 7, 0, 0, tzinfo=UTC)  # the good line still reads
    assert _first(events, EventType.queue_joined).queue == "reception"


def test_the_bounds_themselves_are_accepted() -> None:
    out, _ = _read(
        "1785740400|8.1|reception|NONE|ENTERQUEUE||0770|1\n"
        "1785826800|8.1|reception|PJSIP/201|RINGNOANSWER|86400000\n"
        "1785826800|8.1|reception|PJSIP/201|CONNECT|86400|8.2|3\n"
        "1785913200|8.1|reception|PJSIP/201|COMPLETECALLER|86400|86400|1\n"
    )
    assert not [o.error for o in out if o.error]
    events = _by_call(out)["8.1"]
    assert _seconds(_first(events, EventType.queue_joined), _first(events, EventType.answered)) == (
        86400
    )
    assert _seconds(_first(events, EventType.answered), events[-1]) == 86400


@pytest.mark.parametrize(("epoch", "accepted"), [(946684799, False), (946684800, True)])
def test_the_epoch_must_be_from_the_year_2000_on(epoch: int, accepted: bool) -> None:
    out, _ = _read(f"{epoch}|8.1|reception|NONE|ENTERQUEUE||0770|1\n")
    errors = [o.error for o in out if o.error]
    # Accepted by the adapter; the event's own earliest time (settings) is checked later.
    assert (_OUTSIDE_YEARS not in errors) is accepted


def test_a_system_line_with_a_bad_epoch_is_an_error_too() -> None:
    out, tally = _read(_GOOD + "99999999999999|NONE|NONE|NONE|QUEUESTART|\n")
    assert [(o.line, o.error) for o in out if o.error] == [
        (
            2,
            _OUTSIDE_YEARS,
        )
    ]
    assert "7.1" in _by_call(out)


def test_attended_transfer_names_its_fields_as_numbered_in_the_line() -> None:
    out, _ = _read(
        _ANSWERED + "1785740540|7.1|reception|PJSIP/201|ATTENDEDTRANSFER|LINK|a|b|20|x|1\n"
    )
    assert [o.error for o in out if o.error] == [
        "ATTENDEDTRANSFER: field 'calltime' (data5) is not a whole number"
    ]


def test_a_line_whose_events_fail_alike_is_reported_once() -> None:
    line = "1785740400|7\x0b1|reception|NONE|ENTERQUEUE||07700900555|1\n"
    out = list(read_queue_log([line], PRACTICE, RULES))
    assert [o.line for o in out if o.error] == [1]  # call_started and queue_joined both fail
    assert not [o for o in out if o.event]


def test_an_unforeseen_fault_in_a_handler_rejects_that_line_only(monkeypatch) -> None:
    from streams.ingest.adapters import asterisk_queue_log

    def boom(reader, call, line) -> None:
        raise OverflowError("07700900555 is out of range")

    monkeypatch.setitem(asterisk_queue_log._HANDLERS, "CONNECT", boom)
    out, _ = _read(_ANSWERED + "1785740540|7.1|reception|PJSIP/201|COMPLETECALLER|20|120|1\n")
    assert [(o.line, o.error) for o in out if o.error] == [
        (2, "CONNECT line could not be read (OverflowError)")
    ]
    assert [e.type.value for e in _by_call(out)["7.1"]] == [
        "call_started",
        "queue_joined",
        "call_ended",
    ]


def test_an_unforeseen_fault_building_an_event_rejects_that_event_only(monkeypatch) -> None:
    from streams.ingest.adapters import asterisk_queue_log

    real = asterisk_queue_log.build_event

    def build(line: int, fields: dict) -> AdapterLine:
        if fields["type"] == "queue_joined":
            raise ValueError("year 58557 is out of range for 07700900555")
        return real(line, fields)

    monkeypatch.setattr(asterisk_queue_log, "build_event", build)
    out, _ = _read(_GOOD)
    assert [(o.line, o.error) for o in out if o.error] == [
        (1, "queue_joined event could not be read (ValueError)")
    ]
    assert [e.type.value for e in _by_call(out)["7.1"]] == ["call_started"]


FAILOVER = """\
1785740400|1785740400.11|reception|NONE|ENTERQUEUE||07700900123|1
1785740520|1785740400.11|reception|NONE|EXITWITHTIMEOUT|1|1|120
1785740540|1785740540.20|reception|NONE|ENTERQUEUE||07700900124|1
1785740545|1785740400.11|overflow|NONE|ENTERQUEUE||07700900123|1
1785740560|1785740400.11|overflow|PJSIP/301|CONNECT|15|1785740560.5|3
1785740600|1785740540.20|reception|NONE|ABANDON|1|1|60
1785740700|1785740400.11|overflow|PJSIP/301|COMPLETEAGENT|15|140|1
"""


def test_a_failover_queue_after_other_callers_lines_continues_the_same_call() -> None:
    """An announcement, then Queue(overflow), 25 s after the timeout, with another caller's
    lines between: one call, one end, talk = the COMPLETEAGENT calltime (the 10 s grace it
    had sent the call early, then made a second start and talk 0 of it)."""
    out, _ = _read(FAILOVER)
    assert [o.error for o in out if o.error] == []
    events = _by_call(out)["1785740400.11"]
    kinds = [e.type.value for e in events]
    assert kinds.count("call_started") == 1 and kinds.count("call_ended") == 1
    answered, ended = _first(events, EventType.answered), _first(events, EventType.call_ended)
    assert _seconds(answered, ended) == 140


def test_a_line_of_a_call_sent_long_before_is_rejected_not_a_second_call() -> None:
    late = FAILOVER + "1785748000|1785740400.11|overflow|NONE|ENTERQUEUE||07700900123|1\n"
    out, _ = _read(late)
    errors = [(o.line, o.error) for o in out if o.error]
    assert errors == [
        (
            8,
            "ENTERQUEUE: call '1785740400.11' ended more than 3600 s before this line and was "
            "already sent: a line this late cannot join it",
        )
    ]
    kinds = [e.type.value for e in _by_call(out)["1785740400.11"]]
    assert kinds.count("call_started") == 1


def test_callback_keys_come_from_the_practice_rules(tmp_path: Path) -> None:
    """EXITWITHKEY asks for a callback (CBT005) only with a key the rules list; there was no
    way to list one, so no queue_log call could ever request a callback."""
    from streams.core.rules import PhoneSystem
    from streams.ingest.formats import read_events

    source = tmp_path / "queue_log"
    source.write_text(
        "1785740400|9.1|q|NONE|ENTERQUEUE||07700900123|1\n"
        "1785740430|9.1|q|NONE|EXITWITHKEY|5|1|1|30\n"
    )
    offers = RULES.model_copy(update={"phone_system": PhoneSystem(queue_log_callback_keys=("5",))})
    for rules, expected in ((offers, True), (RULES, False)):
        out = list(read_events(source, "asterisk-queue-log", PRACTICE, rules))
        asked = [o.event for o in out if o.event and o.event.type is EventType.callback_requested]
        assert bool(asked) is expected


def test_a_caller_the_queue_would_not_take_is_a_missed_call_not_dropped() -> None:
    """JOINEMPTY (no one logged in) and FULL (as many waiting as it holds) were skipped, and
    with them the call: a caller at 08:00 who found reception not yet logged in vanished
    from CBT001 and CBT004. Each is a missed call with no wait; one the dialplan then sends
    to an overflow queue goes on there, waiting from the queue that refused it."""
    log = (
        "1754206200|j1|NONE|NONE|DID|01234567890\n"
        "1754206201|j1|reception|NONE|JOINEMPTY|1|1|0\n"
        "1754206300|f1|reception|NONE|FULL|\n"
        "1754206300|f2|reception|NONE|FULL|\n"
        "1754206310|f2|overflow|NONE|ENTERQUEUE||07700900123|1\n"
        "1754206340|f2|overflow|NONE|ABANDON|1|1|30\n"
        "1754206400|x1|NONE|NONE|FULL|\n"
        "1754206500|u1|reception|NONE|JOINUNAVAIL|\n"
    )
    out, tally = _read(log)
    calls = _by_call(out)
    for call_id, at in (("j1", 1754206201), ("f1", 1754206300), ("u1", 1754206500)):
        events = calls[call_id]
        assert [e.type for e in events] == [EventType.queue_joined, EventType.call_ended]
        assert events[0].queue == "reception"
        assert {e.at for e in events} == {datetime.fromtimestamp(at, UTC)}
    overflow = calls["f2"]
    assert [e.type for e in overflow] == [
        EventType.queue_joined, EventType.call_started, EventType.queue_joined,
        EventType.call_ended,
    ]  # fmt: skip
    started = _first(overflow, EventType.call_started)
    assert started.at == overflow[0].at == datetime.fromtimestamp(1754206300, UTC)
    assert _seconds(overflow[0], overflow[-1]) == 40
    errors = [item.error for item in out if item.error]
    assert errors == ["FULL: field 'queue' (column 3) is empty"]
    assert not any(verb in reason for reason in tally for verb in ("JOIN", "FULL"))
