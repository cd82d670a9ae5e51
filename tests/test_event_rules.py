"""The first hop takes only what the classifier and the warehouse can hold (issue 11).

Pure: models, normalise, the call's span, the error formatter. The same rules reach HTTP,
`push`, `classify` and the worker because all of them validate with ``CallEvent``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.events import CallEvent, EventBounds, EventType, PseudonymisedEvent, set_event_bounds
from streams.core import errors
from streams.core.assemble import CallAssembly, CallSpan, OutsideCall, held_back_reason
from streams.core.call_state import CallState, receive
from streams.core.classify import classify_call
from streams.core.normalise import Rejected, normalise
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import load_rules
from streams.settings import Settings

KEY = b"test-key"
STARTED = {
    "practice": "A12345",
    "call_id": "c1",
    "event_id": "e1",
    "type": "call_started",
    "at": "2026-08-03T07:30:00Z",
    "caller": "07700 900123",
}


def problems(**changes: object) -> list[tuple[str | None, str]]:
    try:
        CallEvent.model_validate({**STARTED, **changes})
    except ValidationError as exc:
        return [(p.field, p.message) for p in errors.problems(exc)]
    return []


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("07700900124", "must be an RFC 3339 time"),  # issue 11 case 3
        ("1754206200", "must be an RFC 3339 time"),
        (1754206200, "must be an RFC 3339 time"),
        (1754206200.5, "must be an RFC 3339 time"),
        (True, "must be an RFC 3339 time"),
        ("2100-01-01T00:00:00Z", "more than 24 h in the future"),  # case 1
        ("0001-01-01T00:00:00Z", "is before 2020-01-01"),  # case 2
        ("9999-12-31T23:59:59-23:59", "more than 24 h in the future"),
        ("2019-12-31T23:59:59Z", "is before 2020-01-01"),
        ("2026-08-03T07:30:00", "timezone"),
        ("2026-08-03T07:30:00Z" + " " * 30, "must be an RFC 3339 time"),  # over 40 chars
        (" 2026-08-03T07:30:00Z ", None),
    ],
)
def test_event_time_must_be_rfc3339_and_within_bounds(at: object, message: str | None) -> None:
    found = problems(at=at)
    if message is None:
        assert found == []
    else:
        assert [field for field, _ in found] == ["at"] and message in found[0][1], found


def test_now_is_fine_and_a_day_ahead_is_the_limit() -> None:
    now = datetime.now(UTC)
    assert problems(at=(now + timedelta(hours=23)).isoformat()) == []
    assert problems(at=(now + timedelta(hours=25)).isoformat())[0][0] == "at"


def test_bounds_come_from_settings_or_a_validation_context() -> None:
    wide = EventBounds(earliest=datetime(1, 1, 1, tzinfo=UTC), max_future=timedelta(days=1))
    old = {**STARTED, "at": "1999-01-01T00:00:00Z"}
    assert CallEvent.model_validate(old, context={"event_bounds": wide}).at.year == 1999
    settings = Settings(event_earliest="1990-01-01T00:00:00Z", event_max_future_s=60)
    previous = set_event_bounds(settings.event_bounds)
    try:
        assert CallEvent.model_validate(old).at.year == 1999
        assert problems(at=(datetime.now(UTC) + timedelta(minutes=5)).isoformat())[0][0] == "at"
    finally:
        set_event_bounds(previous)


@pytest.mark.parametrize("field", ["call_id", "event_id", "caller"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u202e"])
def test_no_control_characters_in_text(field: str, char: str) -> None:
    found = problems(**{field: f"a{char}b"})
    assert [f for f, _ in found] == [field]
    assert f"U+{ord(char):04X} at position 1" in found[0][1]


def test_text_fields_are_bounded() -> None:
    assert problems(call_id="x" * 201)[0] == (
        "call_id",
        "String should have at most 200 characters",
    )
    assert problems(caller="0" * 65)[0][0] == "caller"


def test_a_field_name_sent_as_a_number_is_masked_and_cut_in_errors() -> None:
    """Case 4: `Extra inputs are not permitted` named the key +447700900241 as it was."""
    found = problems(**{"+447700900241": 1, "y" * 500: 2})
    assert found[0] == ("<digits masked>", "Extra inputs are not permitted")
    assert len(found[1][0]) == errors.MAX_FIELD_CHARS


def test_normalise_rejects_out_of_window_times_naming_at() -> None:
    for at in ("0001-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "07700900124"):
        value = json.dumps({**STARTED, "at": at}).encode()
        result = normalise(value, b"A12345:c1", KEY)
        assert isinstance(result, Rejected) and result.field == "at", result
        assert "07700900124" not in result.reason


def test_free_text_is_masked_at_the_first_hop_with_distinct_masks() -> None:
    one = pseudonymise(CallEvent.model_validate({**STARTED, "call_id": "c 07700 900123"}), KEY)
    two = pseudonymise(CallEvent.model_validate({**STARTED, "call_id": "c 07700 900124"}), KEY)
    assert one.call_id.startswith("c tel-") and one.call_id != two.call_id
    assert "900123" not in one.model_dump_json()
    kept = pseudonymise(CallEvent.model_validate({**STARTED, "call_id": "1754208000.42"}), KEY)
    assert kept.call_id == "1754208000.42"


T0 = datetime(2026, 8, 3, 7, 30, tzinfo=UTC)
SPAN = CallSpan(events=timedelta(hours=4), callbacks=timedelta(hours=48))
RULES = load_rules()


def ev(n: int, kind: EventType, seconds: float, **fields: object) -> PseudonymisedEvent:
    return PseudonymisedEvent(
        practice="A12345",
        call_id="c1",
        event_id=f"e{n}",
        type=kind,
        at=T0 + timedelta(seconds=seconds),
        **fields,
    )


def test_an_event_too_far_from_its_call_is_refused_naming_at() -> None:
    state, _, _ = receive(None, ev(1, EventType.call_started, 0), 0, SPAN)
    state, changed, _ = receive(state, ev(2, EventType.call_ended, 4 * 3600), 1, SPAN)
    assert changed
    with pytest.raises(OutsideCall, match="field 'at': 14401 s from this call's call_started"):
        receive(state, ev(3, EventType.voicemail, 4 * 3600 + 1), 2, SPAN)
    with pytest.raises(OutsideCall, match="call_max_span_s \\(14400 s\\)"):
        receive(state, ev(3, EventType.voicemail, -4 * 3600 - 1), 2, SPAN)
    assert len(state.assembly) == 2  # nothing changed
    # a callback the next day is part of the call; one three days on is not
    receive(state, ev(4, EventType.callback_made, 86400, outcome="answered"), 3, SPAN)
    with pytest.raises(OutsideCall, match="callback_retention_s"):
        receive(state, ev(5, EventType.callback_made, 3 * 86400, outcome="answered"), 4, SPAN)


def _held(assembly: CallAssembly) -> list[str]:
    return [e.event_id for e in assembly.events]


def test_one_event_with_a_wrong_clock_costs_itself_whatever_the_order() -> None:
    """A stray ivr_option stamped 5 h late, sent first: the call_started that comes after it
    sets it aside, so the call is the same as when the stray comes last."""
    stray = ev(9, EventType.ivr_option, 5 * 3600, option="1")
    real = [
        ev(1, EventType.call_started, 0),
        ev(2, EventType.queue_joined, 10, queue="main"),
        ev(3, EventType.answered, 40, team="reception"),
        ev(4, EventType.call_ended, 100),
    ]
    stray_first = CallAssembly()
    assert stray_first.add(stray, SPAN) and stray_first.take_set_aside() == []
    assert stray_first.add(real[0], SPAN)
    assert stray_first.take_set_aside() == [stray] and stray_first.take_set_aside() == []
    for event in real[1:]:
        stray_first.add(event, SPAN)
    stray_last = CallAssembly()
    for event in real:
        stray_last.add(event, SPAN)
    with pytest.raises(OutsideCall):
        stray_last.add(stray, SPAN)
    assert _held(stray_first) == _held(stray_last) == ["e1", "e2", "e3", "e4"]
    assert stray_first.complete and stray_first.last_event_at == T0 + timedelta(seconds=100)


def test_a_late_callback_stays_when_a_stray_is_set_aside() -> None:
    assembly = CallAssembly()
    callback = ev(5, EventType.callback_made, 20 * 3600, outcome="answered")
    stray = ev(9, EventType.ivr_option, 5 * 3600, option="1")
    for event in (callback, stray):
        assembly.add(event, SPAN)
    assembly.add(ev(1, EventType.call_started, 0), SPAN)
    assert assembly.take_set_aside() == [stray] and _held(assembly) == ["e1", "e5"]


def _arrive(events: list[PseudonymisedEvent]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The events held, and those refused or set aside, after they come in this order."""
    assembly, left_out = CallAssembly(), []
    for event in events:
        try:
            assembly.add(event, SPAN)
        except OutsideCall:
            left_out.append(event.event_id)
        left_out += [e.event_id for e in assembly.take_set_aside()]
    return tuple(_held(assembly)), tuple(sorted(left_out))


@pytest.mark.parametrize(
    "steps",
    [
        # the call_started's clock 5 h off (design.md: events come in any order)
        [
            (0, "call_started"),
            (-5 * 3600 + 10, "queue_joined"),
            (-5 * 3600 + 40, "answered"),
            (-5 * 3600 + 100, "call_ended"),
        ],
        # a 4.5-hour call: its end is past the span whether it comes first or last
        [(0, "call_started"), (10, "queue_joined"), (60, "answered"), (4.5 * 3600, "call_ended")],
        # strays either side, a callback the next day
        [
            (0, "call_started"),
            (-3 * 3600, "ivr_option"),
            (3 * 3600, "ringing"),
            (5 * 3600, "voicemail"),
            (600, "call_ended"),
            (86400, "callback_made"),
        ],
        # a stray 9 h off (more than twice the span from the rest), any order: it came
        # first and the answer and end before the start got them refused
        [
            (0, "call_started"),
            (9 * 3600, "ivr_option"),
            (10, "queue_joined"),
            (40, "answered"),
            (100, "call_ended"),
        ],
    ],
    ids=["start 5 h off", "4.5-hour call", "strays and a callback", "stray far off first"],
)
def test_which_events_count_does_not_depend_on_the_order_they_came_in(steps: list) -> None:
    fields = {
        "queue_joined": {"queue": "main"},
        "answered": {"team": "reception"},
        "ringing": {"team": "reception"},
        "ivr_option": {"option": "1"},
        "callback_made": {"outcome": "answered"},
    }
    events = [
        ev(n, EventType(kind), at, **fields.get(kind, {})) for n, (at, kind) in enumerate(steps)
    ]
    seen = {_arrive(list(order)) for order in itertools.permutations(events)}
    assert len(seen) == 1, seen
    [(held, left_out)] = seen
    assert sorted(held + left_out) == sorted(e.event_id for e in events)  # each one somewhere
    assert "e0" in held  # the call_started anchors the call


def test_without_a_span_anything_goes_and_state_keeps_its_partition() -> None:
    assembly = CallAssembly([ev(1, EventType.call_started, 0), ev(2, EventType.call_ended, 1e6)])
    state = CallState(assembly, 5.0, partition=3)
    assert CallState.from_bytes(state.to_bytes()).partition == 3
    old = json.loads(state.to_bytes())
    del old["p"]  # a state written before partitions were kept
    assert CallState.from_bytes(json.dumps(old).encode()).partition is None


def test_a_long_ring_group_call_keeps_what_changes_it_and_stays_bounded() -> None:
    """Half full, a later ringing or queue join than the first changes nothing and is not
    kept; full, only the first of a kind (the end) still gets in, and the call classifies
    as it would with every event."""
    span = CallSpan(events=timedelta(hours=4), callbacks=timedelta(hours=48), most_events=20)
    rings = [ev(100 + n, EventType.ringing, 20 + n, team="reception") for n in range(200)]
    events = [
        ev(1, EventType.call_started, 0, caller_key="k" * 32),
        ev(2, EventType.queue_joined, 10, queue="main"),
        *rings,
        ev(3, EventType.answered, 400, team="reception"),
        *[ev(300 + n, EventType.transferred, 410 + n, team=f"team{n}") for n in range(30)],
        ev(4, EventType.call_ended, 900),
    ]
    assembly, refused = CallAssembly(), []
    for event in events:
        try:
            assembly.add(event, span)
        except OutsideCall as exc:
            refused.append((event.event_id, exc.field))
    assert len(assembly) == 21 and assembly.absorbed == 200 - (10 - 2)
    assert assembly.complete  # the end, the first of its kind, had room
    assert refused == [(f"e{300 + n}", "call_id") for n in range(9, 30)]
    # an earlier ringing than the first held would change the wait: not absorbed, refused
    with pytest.raises(OutsideCall, match="call_max_events"):
        assembly.add(ev(99, EventType.ringing, 5, team="reception"), span)
    whole = classify_call([e for e in events if e.event_id not in dict(refused)], RULES)
    capped = classify_call(assembly.events, RULES)
    assert capped.model_copy(update={"events": whole.events}) == whole


def test_the_largest_call_state_fits_one_kafka_message() -> None:
    """call_max_events at its highest, the largest fields the contract allows, one of each
    type more: under the broker's default message.max.bytes (1,048,588) with its key."""
    [most] = [m.le for m in Settings.model_fields["call_max_events"].metadata if hasattr(m, "le")]
    widest = {
        "practice": "A81001",
        "call_id": "c" * 200,
        "at": datetime(2026, 12, 3, 9, 40, 0, 123456, tzinfo=UTC),
        "team": "t" * 200,
        "queue": "q" * 200,
        "option": "o" * 50,
        "agent": "a" * 64,
        "role": "care_navigator",
        "request_type": "prescriptions",
        "direction": "outbound",
        "target": "online_consultation",
        "outcome": "unanswered",
        "time_known": False,
        "caller_key": "k" * 32,
        "caller_withheld": False,
    }
    events = [
        PseudonymisedEvent(**widest, event_id=f"{n:06d}".ljust(200, "e"), type=kind)
        for n, kind in enumerate([EventType.transferred] * most + list(EventType))
    ]
    state = CallState(CallAssembly(events), 1e12, True, 99)
    assert len(state.to_bytes()) + len(events[0].key) < 1_000_000


def _wide(n: int, kind: EventType, char: str) -> PseudonymisedEvent:
    """An event whose text fields are ``char`` to their contract length."""
    return PseudonymisedEvent(
        practice="A81001",
        call_id="c1",
        event_id=f"{n:06d}".ljust(400, char),
        type=kind,
        at=T0 + timedelta(seconds=n),
        team=char * 400,
        queue=char * 400,
        option=char * 100,
        agent=char * 128,
        target="other",
        outcome="answered",
        caller_key="k" * 32,
    )


@pytest.mark.parametrize("char", ["😀", "界", '"', "é"])
def test_a_call_of_many_byte_characters_stays_one_kafka_message(char: str) -> None:
    """600 events of four-byte characters take 2.2 MB saved: the count alone cannot keep a
    call's state in one message. The bytes do, with room left for the call's end."""
    span = Settings().call_span
    assembly, refused = CallAssembly(), []
    for n in range(1, 601):
        try:
            assembly.add(_wide(n, EventType.transferred, char), span)
        except OutsideCall as exc:
            refused.append((exc.field, str(exc)))
    others = [kind for kind in EventType if kind is not EventType.transferred]
    for n, kind in enumerate(others, start=1000):
        assembly.add(_wide(n, kind, char), span)  # the first of its kind has room
    state = CallState(assembly, 1e12, True, 99)
    assert len(state.to_bytes()) + 4 * len(assembly.key or "") < 1_000_000
    assert assembly.complete and len(assembly) + len(refused) == 600 + len(others)
    if char in "😀界":
        assert refused and {field for field, _ in refused} == {"call_id"}
        assert "kafka_message_max_bytes" in refused[0][1]


def test_the_byte_budget_holds_whatever_order_events_come_in() -> None:
    """Measured from the events held when it starts to matter, and again after a
    call_started sets events aside, so no order lets a call past it."""
    span = Settings().call_span
    early = [_wide(n, EventType.transferred, "😀") for n in range(1, 700)]
    far = _wide(0, EventType.ivr_option, "😀").model_copy(update={"at": T0 - timedelta(hours=5)})
    assembly = CallAssembly()
    for event in [far, *early[:100]]:
        assembly.add(event, span)
    started = _wide(5000, EventType.call_started, "😀").model_copy(update={"at": T0})
    assembly.add(started, span)  # sets `far` aside
    assert [e.event_id for e in assembly.take_set_aside()] == [far.event_id]
    for event in early[100:]:
        with contextlib.suppress(OutsideCall):
            assembly.add(event, span)
    saved = len(CallState(assembly, 1.0).to_bytes())
    assert span.most_bytes - 6_100 < saved < span.most_bytes + len(assembly) + 100


def test_a_call_let_go_without_its_start_gives_up_what_it_held_back() -> None:
    """Before the start, an event no start could hold with those held is held back, not
    refused: the call is classified without it, it survives the changelog, and it is handed
    over once when the call is let go (the worker dead-letters it on eviction)."""
    stray = ev(9, EventType.ivr_option, 9 * 3600, option="1")
    rest = [
        ev(2, EventType.queue_joined, 10, queue="main"),
        ev(3, EventType.answered, 40, team="reception"),
        ev(4, EventType.call_ended, 100),
    ]
    state, changed, _ = receive(None, stray, 0, SPAN)
    for n, event in enumerate(rest, start=1):
        state, changed, report = receive(state, event, n, SPAN)
        assert changed
    assert _held(state.assembly) == ["e9"] and not report  # the first to come anchors
    assert [e.event_id for e in state.assembly.held_back] == ["e2", "e3", "e4"]
    again = CallState.from_bytes(state.to_bytes())
    assert [e.event_id for e in again.assembly.held_back] == ["e2", "e3", "e4"]
    assert not again.assembly.add(rest[0], SPAN)  # a repeat of one held back changes nothing
    assert CallAssembly.from_json(json.dumps(again.assembly.to_json())).held_back == rest
    again.assembly.add(ev(1, EventType.call_started, 0), SPAN)  # the start places them
    assert _held(again.assembly) == ["e1", "e2", "e3", "e4"] and again.assembly.complete
    assert again.assembly.take_set_aside() == [stray] and again.assembly.held_back == []
    assert state.assembly.take_held_back() == rest and state.assembly.take_held_back() == []
    assert "no call_started came" in held_back_reason(3, SPAN)


def test_held_back_events_count_towards_the_call_limits() -> None:
    span = CallSpan(events=timedelta(hours=4), callbacks=timedelta(hours=48), most_events=6)
    assembly = CallAssembly()
    assembly.add(ev(1, EventType.ivr_option, 9 * 3600, option="1"), span)
    for n in range(2, 7):
        assembly.add(ev(n, EventType.transferred, n, team=f"t{n}"), span)
    assert len(assembly) + len(assembly.held_back) == 6
    with pytest.raises(OutsideCall, match="call_max_events"):
        assembly.add(ev(7, EventType.transferred, 7, team="t7"), span)


def test_a_later_answer_is_kept_while_the_start_may_set_the_first_aside() -> None:
    """Half full before its start, the call held an answer stamped 5 h early: a correct
    later answer was 'not kept' as changing nothing, then the start set the early one
    aside and the call showed unanswered. Later copies are let go only once the start is
    held."""
    span = CallSpan(events=timedelta(hours=4), callbacks=timedelta(hours=48), most_events=20)
    events = [
        ev(90, EventType.answered, -5 * 3600, team="reception"),
        *[ev(100 + n, EventType.ringing, 10 + n, team="reception") for n in range(12)],
        ev(3, EventType.answered, 40, team="reception"),
        ev(1, EventType.call_started, 0),
        ev(4, EventType.call_ended, 100),
        ev(5, EventType.answered, 50, team="reception"),  # after the start: not kept
    ]
    assembly = CallAssembly()
    for event in events:
        assembly.add(event, span)
    assert [e.event_id for e in assembly.take_set_aside()] == ["e90"]
    assert [e.event_id for e in assembly.events if e.type is EventType.answered] == ["e3"]
    assert assembly.absorbed == 1
    call = classify_call(assembly.events, RULES)
    clean = classify_call([e for e in events if e.event_id != "e90"], RULES)
    assert call.outcome == "answered" and call.wait_s == clean.wait_s


def test_a_corrected_copy_takes_the_place_of_one_held_back() -> None:
    """The answer came first with a clock 9 h off and was held back; a resend of it (same
    event_id) at the right time was taken for a repeat and dropped, and the start then set
    the first copy aside: the call showed missed."""
    events = [
        ev(2, EventType.queue_joined, 10, queue="main"),
        ev(3, EventType.answered, -9 * 3600, team="reception"),
        ev(3, EventType.answered, 40, team="reception"),
        ev(1, EventType.call_started, 0),
        ev(4, EventType.call_ended, 100),
    ]
    assembly = CallAssembly()
    assert [assembly.add(event, SPAN) for event in events] == [True] * 5
    assert [e.at for e in assembly.events if e.type is EventType.answered] == [events[2].at]
    assert assembly.take_set_aside() == []  # the early copy is gone as a repeat of its id
    assert classify_call(assembly.events, RULES).outcome == "answered"
    assert not assembly.add(events[1], SPAN)  # the early copy again: a repeat now


def test_what_is_held_back_is_not_the_call_and_callbacks_make_way() -> None:
    """A callback_requested held back does not keep the call for the callback retention; a
    call holding only a callback_made far off gives way to its real events (it was taken
    for an orphan and dead-lettered whole, answer and end included)."""
    assembly = CallAssembly()
    for event in (
        ev(2, EventType.queue_joined, 10, queue="main"),
        ev(4, EventType.call_ended, 100),
        ev(5, EventType.callback_requested, 9 * 3600),
    ):
        assembly.add(event, SPAN)
    assert [e.event_id for e in assembly.held_back] == ["e5"]
    assert not assembly.callback_requested
    span = CallSpan(events=timedelta(hours=4), callbacks=timedelta(hours=48))
    state, _, _ = receive(None, ev(9, EventType.callback_made, 60 * 3600, outcome="answered"), 0)
    for n, event in enumerate(
        [
            ev(2, EventType.queue_joined, 10, queue="main"),
            ev(3, EventType.answered, 40, team="reception"),
            ev(4, EventType.call_ended, 100),
        ],
        start=1,
    ):
        state, _, _ = receive(state, event, n, span)
    assert _held(state.assembly) == ["e2", "e3", "e4"] and not state.orphan
    assert [e.event_id for e in state.assembly.held_back] == ["e9"]
    state.assembly.add(ev(1, EventType.call_started, 0), span)
    assert [e.event_id for e in state.assembly.take_set_aside()] == ["e9"]  # 60 h > 48 h


def test_a_saved_call_is_anchored_by_the_same_start() -> None:
    """Saved with its events sorted, a call read back was anchored by its earliest start,
    not the one that came first: the same events then counted differently after a restart."""
    later_start = ev(2, EventType.call_started, 3 * 3600)
    state, _, _ = receive(None, later_start, 0, SPAN)
    state, _, _ = receive(state, ev(1, EventType.call_started, 0), 1, SPAN)
    end = ev(3, EventType.call_ended, 6.5 * 3600)
    again = CallState.from_bytes(state.to_bytes())
    assert state.assembly.add(end, SPAN) and again.assembly.add(end, SPAN)
    assert _held(state.assembly) == _held(again.assembly) == ["e1", "e2", "e3"]
