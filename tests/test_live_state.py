"""The wallboard's live state of a practice, from calls as they happen: pure, clock given."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from classify_support import call

from streams.core.assemble import CallAssembly
from streams.core.classify import classify_call
from streams.core.live import CallView, Counted, PracticeLive, call_view, roll_up
from streams.core.rules import load_rules
from streams.worker.live import live_messages

START = "2026-08-03T07:00:00Z"  # Monday 08:00 in England (BST)
T0 = datetime.fromisoformat("2026-08-03T07:00:00+00:00").timestamp()
OPEN_MAX = 4 * 3600.0
RULES = load_rules(None)


def view(events: list) -> CallView:
    assembly = CallAssembly(events)
    classified = classify_call(assembly, RULES) if assembly.complete else None
    return call_view(assembly, classified)


class Board(PracticeLive):
    """A practice's live state with its per-call entries beside it, as the worker keeps them."""

    def take(self, *calls: list, now: float) -> None:
        self.apply([view(events) for events in calls], now, now, OPEN_MAX, self.calls)

    @property
    def calls(self) -> dict[str, Counted]:
        return self.__dict__.setdefault("_calls", {})


def live_after(*calls: list, now: float) -> Board:
    live = Board("A12345")
    live.take(*calls, now=now)
    return live


QUEUED = [(0, "call_started"), (10, "queue_joined")]


def test_a_call_in_the_queue_counts_with_its_wait_then_leaves_when_answered() -> None:
    live = live_after(call(START, QUEUED), now=T0 + 70)
    board = live.snapshot(T0 + 70, OPEN_MAX)
    assert (board.in_queue, board.longest_wait_s, board.in_progress) == (1, 60, 0)
    answered = call(START, [*QUEUED, (100, "answered")])
    live.take(answered, now=T0 + 101)
    board = live.snapshot(T0 + 101, OPEN_MAX)
    assert (board.in_queue, board.longest_wait_s, board.in_progress) == (0, None, 1)


def test_ended_calls_count_today_by_nhs_outcome_once_each() -> None:
    answered = call(START, [*QUEUED, (60, "answered"), (200, "call_ended")], "a")
    slow = call(START, [*QUEUED, (400, "answered"), (500, "call_ended")], "s")
    missed = call(START, [*QUEUED, (300, "call_ended")], "m")
    ivr = call(START, [(0, "call_started"), (20, "call_ended")], "i")
    callback = call(
        START,
        [*QUEUED, (30, "callback_requested"), (40, "call_ended"), (900, "callback_made")],
        "c",
    )
    now = T0 + 1000
    live = live_after(answered, slow, missed, ivr, callback, now=now)
    live.take(missed, answered, now=now)  # repeats change nothing
    today = live.snapshot(now, OPEN_MAX).today
    assert today.model_dump() == {
        "inbound": 5,
        "answered": 2,
        "missed": 1,
        "ended_in_ivr": 1,
        "callback_requested": 1,
        "callback_made": 1,
        "answered_within_2m": 1,
    }


def test_abandoned_counts_missed_calls_of_the_last_15_minutes_only() -> None:
    missed = call(START, [*QUEUED, (300, "call_ended")], "m")
    live = live_after(missed, now=T0 + 400)
    assert live.snapshot(T0 + 300 + 899, OPEN_MAX).abandoned_15m == 1
    assert live.snapshot(T0 + 300 + 901, OPEN_MAX).abandoned_15m == 0
    assert live.snapshot(T0 + 300 + 901, OPEN_MAX).today.missed == 1


def test_calls_of_another_day_or_long_silent_do_not_show() -> None:
    yesterday = call("2026-08-02T07:00:00Z", [*QUEUED, (60, "call_ended")], "y")
    stale = call(START, QUEUED, "old")
    now = T0 + OPEN_MAX + 60
    live = live_after(yesterday, stale, now=now)
    board = live.snapshot(now, OPEN_MAX)
    assert (board.in_queue, board.today.inbound) == (0, 0)
    # The next day's first figures start from nothing.
    live = live_after(call(START, [*QUEUED, (60, "call_ended")]), now=T0 + 100)
    assert live.snapshot(T0 + 24 * 3600, OPEN_MAX).today.inbound == 0


def test_outbound_and_callback_calls_are_not_queueing() -> None:
    outbound = call(START, [(0, "call_started", {"direction": "outbound"}), (5, "ringing")], "o")
    waiting = call(START, [*QUEUED, (30, "callback_requested")], "w")
    board = live_after(outbound, waiting, now=T0 + 60).snapshot(T0 + 60, OPEN_MAX)
    assert board.in_queue == 0


def test_last_event_time_and_round_trip_through_json() -> None:
    live = live_after(call(START, QUEUED), now=T0 + 20)
    assert live.last_event_at == pytest.approx(T0 + 10)
    assert live.last_received_at == pytest.approx(T0 + 20)
    again = PracticeLive.from_json(json.loads(json.dumps(live.to_json())))
    assert again.snapshot(T0 + 30, OPEN_MAX) == live.snapshot(T0 + 30, OPEN_MAX)


def test_roll_up_sums_practices_and_keeps_the_longest_wait() -> None:
    one = live_after(call(START, QUEUED, "a"), now=T0 + 70).snapshot(T0 + 70, OPEN_MAX)
    two = live_after(call(START, [(0, "call_started"), (50, "queue_joined")], "b"), now=T0 + 70)
    total = roll_up("U12345", [one, two.snapshot(T0 + 70, OPEN_MAX)], T0 + 70)
    assert (total.practice, total.in_queue, total.longest_wait_s) == ("U12345", 2, 60)


def test_a_changed_call_replaces_its_old_contribution_even_after_a_restart() -> None:
    missed = call(START, [*QUEUED, (300, "call_ended")], "x")
    live = live_after(missed, now=T0 + 400)
    # Read back from the changelog: counters and the per-call entries carry on.
    again = Board.from_json(json.loads(json.dumps(live.to_json())))
    again.calls.update(live.calls)
    late_answer = call(START, [*QUEUED, (200, "answered"), (300, "call_ended")], "x")
    again.take(late_answer, late_answer, now=T0 + 500)
    today = again.snapshot(T0 + 500, OPEN_MAX).today
    assert (today.inbound, today.missed, today.answered) == (1, 0, 1)
    assert again.snapshot(T0 + 500, OPEN_MAX).abandoned_15m == 0
    requested = [*QUEUED, (30, "callback_requested"), (40, "call_ended")]
    again.take(call(START, requested, "c"), now=T0 + 600)
    again.take(call(START, [*requested, (3000, "callback_made")], "c"), now=T0 + 3100)
    today = again.snapshot(T0 + 3100, OPEN_MAX).today
    assert (today.inbound, today.callback_requested, today.callback_made) == (2, 1, 1)


def test_the_changelogged_state_keeps_only_the_last_30_minutes_of_ended_calls() -> None:
    calls = [call(START, [*QUEUED, (60 + n, "call_ended")], f"e{n}") for n in range(50)]
    live = live_after(*calls, now=T0 + 120)
    later = call(START, [(3000, "call_started"), (3010, "call_ended")], "late")
    live.take(later, now=T0 + 3020)
    stored = live.to_json()
    assert [row[0] for row in stored["recent"]] == ["late"]
    assert stored["today"]["inbound"] == 51 and len(live.calls) == 51


def test_a_state_written_with_every_ended_call_is_folded_into_counters() -> None:
    old = {
        "practice": "A12345",
        "day": "2026-08-03",
        "open": [],
        "ended": [view(call(START, [*QUEUED, (60, "call_ended")], "m")).to_json()],
        "last_event_at": T0 + 60,
        "last_received_at": T0 + 61,
    }
    calls: dict[str, Counted] = {}
    live = PracticeLive.from_json(old, calls)
    assert live.snapshot(T0 + 100, OPEN_MAX).today.missed == 1
    again = [view(call(START, [*QUEUED, (60, "call_ended")], "m"))]
    live.apply(again, T0 + 100, T0 + 100, OPEN_MAX, calls)
    assert live.snapshot(T0 + 100, OPEN_MAX).today.missed == 1


def test_a_call_with_no_day_in_england_is_refused_by_name_not_crashed_on() -> None:
    """Year 1 passes validation and is dead-lettered by the classifier; its live view must
    say why it cannot be shown (the worker skips it) rather than raise OverflowError."""
    year_one = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
    events = [e.model_copy(update={"at": year_one}) for e in call(START, QUEUED)]
    with pytest.raises(ValueError, match="has no day in England"):
        call_view(CallAssembly(events))


def test_a_batch_of_views_too_large_for_one_message_is_split_and_each_applies_alone() -> None:
    """A batch may end 2,000 calls of one practice: with 400-character call ids (quotes,
    escaped) the one live message was 2 MB, past Kafka's limit, and stopped the pipeline."""
    views = {
        "A12345": [
            json.dumps(CallView('"' * 390 + f"{n:06d}", "ended", 1.0, 2.0, "2026-08-03",
                                "missed", None, False).to_json())
            for n in range(2000)
        ],
        "B12345": [json.dumps(CallView("b1", "queued", 1.0, 2.0, "2026-08-03").to_json())],
    }  # fmt: skip
    messages = list(live_messages(5.0, views, 100_000))
    assert len(messages) > 10 and all(len(m) <= 100_000 for m in messages)
    decoded = [json.loads(m) for m in messages]
    assert {m["received_at"] for m in decoded} == {5.0}
    for practice, rows in views.items():
        sent = [row for m in decoded for row in m["practices"].get(practice, [])]
        assert sent == [json.loads(row) for row in rows]
    small = {"B12345": views["B12345"]}
    [one] = live_messages(5.0, small, 100_000)
    assert json.loads(one) == {
        "received_at": 5.0,
        "practices": {"B12345": [json.loads(r) for r in small["B12345"]]},
    }


def test_a_practice_state_past_one_message_forgets_its_least_recent_calls_not_its_counts() -> None:
    """Thousands of calls started and never ended made one practice's state larger than a
    Kafka message: saving it would stop the worker for every practice."""
    live = PracticeLive("A12345", day="2026-08-03")
    live.today.inbound = live.today.answered = 7
    for n in range(3000):
        view = CallView(f"open-{n:05d}" + "x" * 300, "queue", n, n, "2026-08-03")
        live.open[view.call_id] = view
    for n in range(10):
        view = CallView(f"ended-{n}", "ended", 5000 + n, 5000 + n, "2026-08-03", "answered")
        live.recent[view.call_id] = view
    size = len(json.dumps(live.to_json()))
    assert size > 900_000
    dropped = live.shed(size, 500_000)
    assert len(json.dumps(live.to_json())) <= 500_000
    assert dropped == 3000 - len(live.open) and len(live.recent) == 10
    kept = sorted(v.last_at for v in live.open.values())
    assert kept == list(range(3000 - len(kept), 3000))  # the most recent stay
    assert live.today.inbound == live.today.answered == 7
    assert live.shed(100, 500_000) == 0


def test_shed_forgets_the_least_recent_call_open_or_ended_and_keeps_its_promise() -> None:
    """It emptied the open calls before the ended ones (a caller waiting now went before a
    call ended half an hour ago) and counted a separator the last item has not."""
    live = PracticeLive("A12345", day="2026-08-03")
    waiting = CallView("waiting", "queue", 1000.0, 1000.0, "2026-08-03")
    live.open[waiting.call_id] = waiting
    for n in range(5):
        view = CallView(f"ended-{n}", "ended", 1.0 + n, 1.0 + n, "2026-08-03", "missed")
        live.recent[view.call_id] = view
    size = len(json.dumps(live.to_json()))
    limit = size - len(json.dumps(waiting.to_json())) - 2
    live.shed(size, limit)
    assert "waiting" in live.open and len(live.recent) < 5
    assert len(json.dumps(live.to_json())) <= limit
