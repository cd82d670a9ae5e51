"""Properties of classification over generated calls (hypothesis).

Every valid inbound call gets exactly one outcome with the measures that outcome implies,
and the result does not depend on the order events arrive in nor on repeats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.classified import DURATION_BUCKETS, OUTCOMES, TIME_BANDS, WAIT_BUCKETS
from models.events import EventType, PseudonymisedEvent
from streams.core.assemble import CallAssembly
from streams.core.classify import classify_call
from streams.core.rules import load_rules

RULES = load_rules()
_FIELDS = {
    EventType.ivr_option: {"option": "2"},
    EventType.ivr_divert: {"target": "nhs111"},
    EventType.queue_joined: {"queue": "main"},
    EventType.ringing: {"team": "reception", "role": "care_navigator"},
    EventType.answered: {"team": "reception", "role": "care_navigator"},
    EventType.transferred: {"team": "results", "role": "nurse"},
    EventType.callback_made: {"outcome": "unanswered"},
}
_MIDDLE = [t for t in EventType if t not in (EventType.call_started, EventType.call_ended)]


@st.composite
def inbound_calls(draw: st.DrawFn) -> list[PseudonymisedEvent]:
    """A call: call_started, any middle events at any offsets, maybe a call_ended."""
    start = draw(
        st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
        )
    )
    kinds = [EventType.call_started, *draw(st.lists(st.sampled_from(_MIDDLE), max_size=8))]
    if draw(st.booleans()):
        kinds.append(EventType.call_ended)
    offsets = draw(
        st.lists(st.floats(0, 4000, allow_nan=False), min_size=len(kinds), max_size=len(kinds))
    )
    events = []
    for i, (kind, offset) in enumerate(zip(kinds, sorted(offsets), strict=True)):
        events.append(
            PseudonymisedEvent(
                practice="A12345",
                call_id="p1",
                event_id=f"e{i}",
                type=kind,
                at=start + timedelta(seconds=0 if kind is EventType.call_started else offset),
                caller_key="k" * 32 if kind is EventType.call_started else None,
                **_FIELDS.get(kind, {}),
            )
        )
    return events


@settings(max_examples=300, deadline=None)
@given(inbound_calls())
def test_exactly_one_outcome_and_consistent_measures(events: list[PseudonymisedEvent]) -> None:
    call = classify_call(events, RULES)
    kinds = {e.type for e in events}
    assert call.inbound and call.outcome in OUTCOMES
    assert call.time_band in TIME_BANDS
    assert call.complete == (EventType.call_ended in kinds)
    if call.outcome == "ended_in_ivr":
        assert call.wait_s is None and not kinds & {
            EventType.answered,
            EventType.queue_joined,
            EventType.ringing,
            EventType.voicemail,
            EventType.callback_requested,
        }
    if call.wait_s is not None:
        assert call.wait_s >= 0 and call.wait_bucket in WAIT_BUCKETS
    if call.talk_s is not None:
        assert call.outcome == "answered" and call.duration_bucket in DURATION_BUCKETS
    assert (call.outcome == "answered") == (EventType.answered in kinds)
    assert call.events == len(events)


@settings(max_examples=300, deadline=None)
@given(inbound_calls(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_invariant_to_order_and_duplicates(
    events: list[PseudonymisedEvent], rnd, repeats: int
) -> None:
    expected = classify_call(events, RULES)
    arrived = events + [rnd.choice(events) for _ in range(repeats * len(events))]
    rnd.shuffle(arrived)
    assert classify_call(arrived, RULES) == expected
    assembly = CallAssembly(arrived)
    assert classify_call(CallAssembly.from_json(assembly.to_json()), RULES) == expected
