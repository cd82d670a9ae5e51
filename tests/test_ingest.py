"""The ingest body rules (streams.ingest.body), without a web server."""

from __future__ import annotations

import json

import pytest

from models.events import WITHHELD, EventType
from streams.ingest.body import (
    MAX_DETAILS,
    InvalidEvents,
    MalformedBody,
    parse_body,
    validate_events,
)

P = "A81001"


def event(n: int = 1, **fields) -> dict:
    return {
        "practice": P,
        "call_id": "c1",
        "event_id": f"e{n}",
        "type": "call_started",
        "at": "2026-08-03T08:00:00+01:00",
        "caller": "07700 900123",
        **fields,
    }


def details(exc: pytest.ExceptionInfo) -> list[tuple[int | None, str | None]]:
    return [(d.index, d.field) for d in exc.value.body.details]


def test_a_json_array_and_ndjson_give_the_same_items():
    items = [event(1), event(2, type="call_ended")]
    assert parse_body(json.dumps(items).encode()) == items
    ndjson = "\r\n".join(json.dumps(i) for i in items) + "\n\n"
    assert parse_body(ndjson.encode()) == items
    assert parse_body(json.dumps(items[0]).encode()) == [items[0]]  # one object: one line
    assert parse_body(b"\xef\xbb\xbf" + json.dumps(items).encode()) == items  # UTF-8 BOM


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is empty"),
        (b" \n\t", "body is empty"),
        (b"[]", "the JSON array is empty"),
        (b'[{"a": 1},]', "body is not valid JSON: Expecting value at line 1 column 11"),
        (b"\xff\xfe[]", "body is not UTF-8 text (byte 0 is invalid)"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body: bytes, message: str):
    with pytest.raises(MalformedBody) as exc:
        parse_body(body)
    assert exc.value.body.error.startswith(message)


def test_bad_ndjson_lines_are_each_named_by_index_and_line():
    body = "\n".join([json.dumps(event(1)), "{oops", "", json.dumps(event(2)), "[1,"]).encode()
    with pytest.raises(MalformedBody) as exc:
        parse_body(body)
    assert exc.value.body.error == "2 NDJSON line(s) are not valid JSON; nothing was accepted"
    assert [(d.index, d.message.split(" is")[0]) for d in exc.value.body.details] == [
        (1, "line 2"),
        (3, "line 5"),
    ]


def test_a_number_too_long_to_read_is_named_as_such_not_with_pythons_advice():
    for body in (b'[{"a": ' + b"1" * 5000 + b"}]", b'{"a": ' + b"1" * 5000 + b"}"):
        with pytest.raises(MalformedBody) as exc:
            parse_body(body)
        text = exc.value.body.model_dump_json()
        assert "a number of more than 4,300 digits" in text and "sys.set_int" not in text


def test_valid_events_are_call_events_with_withheld_normalised():
    events = validate_events([event(1), event(2, caller="Anonymous")], P)
    assert [e.event_id for e in events] == ["e1", "e2"]
    assert events[0].type is EventType.call_started and events[1].caller == WITHHELD


def test_an_answer_with_a_team_and_no_role_is_an_answer():
    kinds = ("ringing", "answered", "transferred")
    items = [event(i, type=kind, team="reception") for i, kind in enumerate(kinds, start=1)]
    assert [(e.type.value, e.role) for e in validate_events(items, P)] == [
        (kind, None) for kind in kinds
    ]


def test_a_blank_role_is_no_role_and_choices_are_matched_ignoring_case_and_spaces():
    """design.md: an event is never rejected for want of a role; phone systems write "" for
    a field they leave out and their own spelling of a choice."""
    items = [
        event(1, type="answered", team="reception", role=""),
        event(2, type="answered", team="reception", role="  "),
        event(3, type="answered", team="reception", role="Care Navigator"),
        event(4, type="answered", team="reception", role="GP"),
        event(5, direction=" Outbound "),
        event(6, direction=""),
        event(7, type="ivr_option", option="1", request_type="Appointments"),
        event(8, type="callback_made", outcome="ANSWERED"),
    ]
    events = validate_events(items, P)
    assert [e.role for e in events[:4]] == [None, None, "care_navigator", "gp"]
    assert [e.direction for e in events[4:6]] == ["outbound", None]
    assert events[6].request_type == "appointments" and events[7].outcome == "answered"


def test_a_blank_divert_target_is_named_as_missing_and_an_unknown_role_is_refused():
    items = [
        event(1, type="ivr_divert", target=""),
        event(2, type="answered", team="reception", role="receptionist"),
    ]
    with pytest.raises(InvalidEvents) as exc:
        validate_events(items, P)
    target, role = exc.value.body.details
    assert "field 'target' is required for a ivr_divert event" in target.message
    assert role.field == "role" and "'care_navigator'" in role.message


@pytest.mark.parametrize("shown", ["Number withheld", "Private Number", "abc", "+", "sip:alice"])
def test_a_caller_without_a_digit_is_withheld(shown: str) -> None:
    """Else every such caller shares one pseudonym and they count as one repeat caller."""
    (started,) = validate_events([event(1, caller=shown)], P)
    assert started.caller == WITHHELD


def test_every_invalid_event_is_named_by_index_and_field_and_none_is_returned():
    items = [
        event(1),
        event(2, caller=None),  # call_started needs a caller
        event(3, at="2026-08-03T08:00:00"),  # naive time
        event(4, practice="B82002"),  # another practice
        event(5, colour="blue"),  # not in the contract
        event(6, type="answered", role="gp"),  # answered needs a team (a role is optional)
        "not an object",
        event(8, at=1754200000),  # a Unix time is not RFC 3339
    ]
    with pytest.raises(InvalidEvents) as exc:
        validate_events(items, P)
    assert exc.value.body.error == "7 of 8 events are invalid; nothing was accepted"
    assert details(exc) == [
        (1, "caller"),
        (2, "at"),
        (3, "practice"),
        (4, "colour"),
        (5, "team"),
        (6, None),
        (7, "at"),
    ]
    messages = {d.index: d.message for d in exc.value.body.details}
    assert "/v1/practices/A81001/events" in messages[3] and "B82002" in messages[3]
    assert messages[4].startswith("unknown field")
    assert messages[6] == "event must be a JSON object, not str"


def test_error_messages_do_not_echo_submitted_values():
    with pytest.raises(InvalidEvents) as exc:
        validate_events([event(1, caller="07700 900999" * 10)], P)  # too long
    dumped = exc.value.body.model_dump_json()
    assert "caller" in dumped and "07700" not in dumped


def test_a_body_with_many_bad_events_lists_the_first_hundred_and_stops_checking():
    items = [event(n, type="nonsense") for n in range(MAX_DETAILS + 20)]
    with pytest.raises(InvalidEvents) as exc:
        validate_events(items, P)
    assert exc.value.body.error == (
        f"at least {MAX_DETAILS} of {MAX_DETAILS + 20} events are invalid (checking stopped "
        f"after {MAX_DETAILS} problems); nothing was accepted"
    )
    assert len(exc.value.body.details) == MAX_DETAILS
    assert exc.value.body.details[-1].index == MAX_DETAILS - 1
    assert exc.value.body.details[0].field == "type"


def test_exactly_a_hundred_problems_at_the_end_are_all_counted():
    items = [event(n, type="nonsense") for n in range(MAX_DETAILS)]
    with pytest.raises(InvalidEvents) as exc:
        validate_events(items, P)
    assert exc.value.body.error == f"{MAX_DETAILS} of {MAX_DETAILS} events are invalid; " + (
        "nothing was accepted"
    )


def test_many_bad_ndjson_lines_are_all_counted_and_the_first_hundred_listed():
    body = "\n".join(["{"] * (MAX_DETAILS + 5) + [json.dumps(event(1))]).encode()
    with pytest.raises(MalformedBody) as exc:
        parse_body(body)
    assert exc.value.body.error == (
        f"{MAX_DETAILS + 5} NDJSON line(s) are not valid JSON; nothing was accepted "
        f"(first {MAX_DETAILS} listed)"
    )
    assert [d.index for d in exc.value.body.details] == list(range(MAX_DETAILS))


def test_one_event_with_many_problems_lists_at_most_a_hundred():
    """The cut-off also holds when the problems are all in the last event of a body."""
    fat = event(1, **{f"x{n}": n for n in range(300)})
    for items in ([fat], [event(2), fat]):
        with pytest.raises(InvalidEvents) as exc:
            validate_events(items, P)
        assert len(exc.value.body.details) == MAX_DETAILS
        assert exc.value.body.error.endswith(
            f"nothing was accepted (the first {MAX_DETAILS} problems)"
        )


def test_ndjson_lines_end_at_line_feeds_only():
    """U+2028 and the like may stand raw inside a JSON string; they end no NDJSON line."""
    items = [event(1, agent="x\u2028y"), event(2, type="call_ended")]
    text = "\n".join(json.dumps(i, ensure_ascii=False) for i in items)
    assert parse_body(text.encode()) == items
    with pytest.raises(InvalidEvents) as exc:  # then refused as the field it is in
        validate_events(parse_body(text.encode()), P)
    assert details(exc) == [(0, "agent")]


@pytest.mark.parametrize("ndjson", [False, True])
def test_a_field_given_twice_in_one_event_is_refused_naming_it(ndjson: bool):
    """{"type": "ringing", ..., "type": "answered"} was read as its last value: an answered
    call or a ringing one, whichever the phone system wrote last, with no word to it."""
    good = json.dumps(event(1))
    twice = (
        '{"practice": "A81001", "call_id": "c1", "event_id": "e2", "type": "ringing", '
        '"team": "reception", "at": "2026-08-03T08:00:10Z", "type": "answered", '
        '"at": "2026-08-03T08:00:20Z"}'
    )
    unknown_twice = good[:-1] + ', "colour": 1, "colour": 2}'
    text = (
        "\n".join([good, twice, unknown_twice]) if ndjson else f"[{good}, {twice}, {unknown_twice}]"
    )
    with pytest.raises(InvalidEvents) as caught:
        validate_events(parse_body(text.encode()), P)
    assert details(caught) == [(1, "at"), (1, "type"), (2, "colour")]
    assert "given more than once" in caught.value.body.details[0].message
    assert "08:00:10" not in caught.value.body.model_dump_json()  # values are never quoted
