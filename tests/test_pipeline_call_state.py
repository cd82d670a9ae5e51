"""The worker's per-call state: when a call is reported, closed on timeout, evicted, orphaned.

The clock is an argument, so these run in microseconds with no broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from models.events import EventType, PseudonymisedEvent
from streams.core.call_state import CallState, Sweep, receive, sweep

T0 = datetime(2026, 8, 3, 7, 30, tzinfo=UTC)
TIMEOUT, RETENTION, CALLBACK_RETENTION = 100.0, 1000.0, 5000.0


def ev(n: int, type_: EventType, seconds: int = 0, **fields: object) -> PseudonymisedEvent:
    return PseudonymisedEvent(
        practice="A12345",
        call_id="c1",
        event_id=f"e{n}",
        type=type_,
        at=T0 + timedelta(seconds=seconds),
        **fields,
    )


def swept(state: CallState, now: float) -> Sweep:
    return sweep(state, now, TIMEOUT, RETENTION, CALLBACK_RETENTION)


STARTED = ev(1, EventType.call_started, caller_key="k" * 32)
QUEUED = ev(2, EventType.queue_joined, 5, queue="main")
ENDED = ev(3, EventType.call_ended, 60)
CALLBACK = ev(4, EventType.callback_made, 600, outcome="answered")


def test_reported_when_the_call_ends_not_before() -> None:
    state, changed, report = receive(None, STARTED, now=0)
    assert (changed, report) == (True, False)
    state, changed, report = receive(state, QUEUED, now=1)
    assert (changed, report) == (True, False)
    state, changed, report = receive(state, ENDED, now=2)
    assert (changed, report) == (True, True)
    assert state.last_seen == 2


def test_late_callback_reports_again_and_duplicates_do_not_change_state() -> None:
    state = None
    for n, event in enumerate([STARTED, QUEUED, ENDED]):
        state, _, _ = receive(state, event, now=n)
    state, changed, report = receive(state, CALLBACK, now=10)
    assert (changed, report) == (True, True)
    _, changed, report = receive(state, QUEUED, now=11)  # duplicate, not terminal
    assert (changed, report) == (False, False)
    _, changed, report = receive(state, ENDED, now=12)  # duplicate end: re-report, no change
    assert (changed, report) == (False, True)
    assert state.last_seen == 10


def test_call_without_end_closes_after_timeout_then_updates() -> None:
    state, _, _ = receive(None, STARTED, now=0)
    state, _, _ = receive(state, QUEUED, now=50)
    assert swept(state, now=50 + TIMEOUT - 1) is Sweep.keep
    assert swept(state, now=50 + TIMEOUT) is Sweep.close
    state.timed_out = True
    assert state.reportable
    # after closing, a late event is reported straight away
    _, changed, report = receive(state, ENDED, now=200)
    assert (changed, report) == (True, True)


def test_finished_calls_are_evicted_after_retention() -> None:
    state = None
    for event in (STARTED, ENDED):
        state, _, _ = receive(state, event, now=0)
    assert swept(state, now=RETENTION - 1) is Sweep.keep
    assert swept(state, now=RETENTION) is Sweep.evict


def test_a_call_that_requested_a_callback_is_kept_for_the_callback_retention() -> None:
    """A Friday afternoon's callback request rung back on Monday still counts (CBT006)."""
    requested = ev(5, EventType.callback_requested, 30)
    state = None
    for event in (STARTED, QUEUED, requested, ENDED):
        state, _, _ = receive(state, event, now=0)
    assert swept(state, now=RETENTION) is Sweep.keep
    assert swept(state, now=CALLBACK_RETENTION - 1) is Sweep.keep
    state, changed, report = receive(state, CALLBACK, now=CALLBACK_RETENTION - 1)
    assert (changed, report) == (True, True)
    assert swept(state, now=2 * CALLBACK_RETENTION - 1) is Sweep.evict


def test_callback_for_an_evicted_call_is_an_orphan_never_reported() -> None:
    state, changed, report = receive(None, CALLBACK, now=0)
    assert (changed, report) == (True, False)
    assert state.orphan
    assert swept(state, now=TIMEOUT) is Sweep.orphan
    # if the rest of the call turns up in time it is an ordinary call again
    state, _, _ = receive(state, STARTED, now=1)
    state, _, report = receive(state, ENDED, now=2)
    assert not state.orphan and report


def test_state_round_trips_through_bytes() -> None:
    state, _, _ = receive(None, STARTED, now=3.5)
    state, _, _ = receive(state, QUEUED, now=4.5)
    state.timed_out = True
    again = CallState.from_bytes(state.to_bytes())
    assert (again.last_seen, again.timed_out) == (4.5, True)
    assert [e.event_id for e in again.assembly.events] == ["e1", "e2"]
    assert not again.assembly.add(QUEUED)  # dedup survives the round trip


def test_state_bytes_keep_the_changelog_layout() -> None:
    """The changelog written before and after the faster encoder reads back the same."""
    state, _, _ = receive(None, QUEUED, now=1.25)
    state, _, _ = receive(state, STARTED, now=2.0)
    written = json.loads(state.to_bytes())
    by_id = {e["event_id"]: e for e in written["a"]["events"]}
    assert by_id == {e["event_id"]: e for e in state.assembly.to_json()["events"]}
    assert (written["seen"], written["timed_out"]) == (2.0, False)
    old_layout = json.dumps(
        {"a": state.assembly.to_json(), "seen": state.last_seen, "timed_out": False}
    ).encode()
    again = CallState.from_bytes(old_layout)
    assert [e.event_id for e in again.assembly.events] == ["e1", "e2"]
    assert again.last_seen == 2.0
