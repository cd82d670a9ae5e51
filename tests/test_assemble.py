"""Call assembly: one copy per event_id, life-cycle order, and a state that survives JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from models.events import EventType, PseudonymisedEvent
from streams.core.assemble import CallAssembly, group_events

T0 = datetime(2026, 8, 3, 7, 30, tzinfo=UTC)


def ev(
    eid: str, kind: EventType, seconds: float = 0, call_id: str = "c1", **f
) -> PseudonymisedEvent:
    return PseudonymisedEvent(
        practice="A12345",
        call_id=call_id,
        event_id=eid,
        type=kind,
        at=T0 + timedelta(seconds=seconds),
        **f,
    )


START = ev("a", EventType.call_started, caller_key="k" * 32)
ANSWER = ev("b", EventType.answered, 10, team="reception", role="care_navigator")
TRANSFER = ev("c", EventType.transferred, 10, team="results", role="nurse")
END = ev("d", EventType.call_ended, 10)


def test_repeated_event_id_is_ignored_first_copy_counts() -> None:
    call = CallAssembly()
    assert call.add(ANSWER) is True
    assert call.add(ANSWER.model_copy(update={"at": T0})) is False
    assert call.events == [ANSWER] and len(call) == 1


def test_order_by_time_then_life_cycle_then_id() -> None:
    call = CallAssembly([END, TRANSFER, ANSWER, START])
    assert [e.event_id for e in call.events] == ["a", "b", "c", "d"]
    assert call.complete and call.last_event_at == T0 + timedelta(seconds=10)
    assert call.key == "A12345:c1"


def test_incomplete_until_call_ended() -> None:
    call = CallAssembly([START, ANSWER])
    assert not call.complete
    call.add(END)
    assert call.complete


def test_json_round_trip_keeps_events_and_times() -> None:
    call = CallAssembly([START, ANSWER, END])
    as_dict = call.to_json()
    for form in (as_dict, json.dumps(as_dict), json.dumps(as_dict).encode()):
        back = CallAssembly.from_json(form)
        assert back.events == call.events and back.complete and back.key == call.key
    assert CallAssembly.from_json(json.dumps(as_dict)).add(ANSWER) is False  # ids kept


def test_an_event_of_another_call_is_refused() -> None:
    call = CallAssembly([START])
    with pytest.raises(ValueError, match="A12345:c2"):
        call.add(ev("z", EventType.call_ended, call_id="c2"))


def test_group_events_by_practice_and_call() -> None:
    other = ev("a", EventType.call_started, call_id="c2", caller_key=None)
    groups = group_events([START, other, ANSWER, START])
    assert list(groups) == ["A12345:c1", "A12345:c2"]
    assert len(groups["A12345:c1"]) == 2 and len(groups["A12345:c2"]) == 1
