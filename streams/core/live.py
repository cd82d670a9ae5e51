"""What a practice's phones are doing now: the live state behind the wallboard and the alerts.

Pure logic (no Kafka): the worker turns every call a batch changed into a ``CallView`` (from
the call's assembled events and, once it has ended, the same ``ClassifiedCall`` the warehouse
gets, so "answered" or "missed" here is NHS England's definition), and applies the views of
one practice to that practice's ``PracticeLive``. Applying a view replaces what was known of
its call, so a repeated or re-reported call is never counted twice.

``PracticeLive`` keeps the open calls, today's ended calls folded into counters, and only the
ended calls of the last 30 minutes (the 15- and 30-minute figures), so what the worker writes
per change stays small all day. What each of today's ended calls added to the counters is
kept apart, one small entry per call (``Counted``, in a mapping the caller provides: the
worker's table keyed by call), so a re-reported call replaces its old contribution instead
of adding a second. Times are epoch seconds: event times for a call's phases, the worker's
clock for "now" and for when the practice's events arrived.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from models.classified import ClassifiedCall
from models.events import EventType
from streams.core.assemble import CallAssembly
from streams.core.nhs_time import to_london

Phase = Literal["ivr", "queue", "talking", "other", "ended"]

#: NHS England's service level the wallboard shows: answered within two minutes.
ANSWERED_WITHIN_S = 120
#: "Gave up lately": calls that ended missed within this many seconds before now.
ABANDONED_WINDOW_S = 15 * 60
#: The window of the recent missed share (the alert rule ``missed_share_30m``).
RECENT_WINDOW_S = 30 * 60


@dataclass(frozen=True)
class CallView:
    """One call as the wallboard sees it, at its latest event."""

    call_id: str
    phase: Phase
    since: float  # the phase's start: queue join (else ringing), answer, or call start
    last_at: float  # event time of the call's latest event
    local_date: str  # the call's day in England (its start), ISO
    outcome: str | None = None  # NHS outcome, once ended (None: outbound)
    answered_within: bool = False  # answered within ANSWERED_WITHIN_S of waiting
    callback_made: bool = False

    def to_json(self) -> list[Any]:
        return [
            self.call_id,
            self.phase,
            self.since,
            self.last_at,
            self.local_date,
            self.outcome,
            self.answered_within,
            self.callback_made,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> CallView:
        return cls(*row)


def call_view(assembly: CallAssembly, classified: ClassifiedCall | None = None) -> CallView:
    """The view of a call from its events and, once it has ended, its classification.

    Raises ``ValueError`` for an empty assembly, or a start with no day in England.
    """
    events = assembly.events
    if not events:
        raise ValueError("a call needs at least one event to be seen live")
    first: dict[EventType, datetime] = {}
    inbound = assembly.inbound
    for event in events:
        first.setdefault(event.type, event.at)
    start = first.get(EventType.call_started, events[0].at)
    last_at = max(e.at for e in events)
    try:
        local_date = to_london(start).date().isoformat()
    except OverflowError as exc:  # e.g. year 1: no clock in England shows it
        raise ValueError(f"a call started at {start.isoformat()} has no day in England") from exc
    if assembly.complete:  # counted by its NHS outcome; a call not classified counts nowhere
        outcome = classified.outcome if classified is not None else None
        wait_s = classified.wait_s if classified is not None else None
        return CallView(
            events[0].call_id,
            "ended",
            last_at.timestamp(),
            last_at.timestamp(),
            local_date,
            outcome,
            outcome == "answered" and wait_s is not None and wait_s <= ANSWERED_WITHIN_S,
            classified is not None and classified.callback_made,
        )
    phase: Phase
    if EventType.answered in first:
        phase, since = "talking", first[EventType.answered]
    elif not inbound or EventType.callback_requested in first or EventType.voicemail in first:
        phase, since = "other", start
    elif EventType.queue_joined in first:
        phase, since = "queue", first[EventType.queue_joined]
    elif EventType.ringing in first:
        phase, since = "queue", first[EventType.ringing]
    else:
        phase, since = "ivr", start
    return CallView(events[0].call_id, phase, since.timestamp(), last_at.timestamp(), local_date)


class Today(BaseModel):
    """Today's ended inbound calls of a practice by NHS outcome (CBT002-CBT006)."""

    inbound: int = 0
    answered: int = 0
    missed: int = 0
    ended_in_ivr: int = 0
    callback_requested: int = 0
    callback_made: int = 0
    answered_within_2m: int = 0


class Snapshot(BaseModel):
    """The wallboard's figures for one practice (or the sum over several) at ``as_of``."""

    practice: str
    as_of: float
    in_queue: int
    longest_wait_s: int | None
    in_progress: int  # calls answered and not yet ended
    in_ivr: int
    today: Today
    abandoned_15m: int  # inbound calls that ended missed in the last 15 minutes
    ended_30m: int = 0  # inbound calls that ended in the last 30 minutes
    missed_30m: int = 0  # of which missed
    last_event_at: float | None  # event time of the newest event received
    last_received_at: float | None  # when the worker last received an event of it


#: What one of today's ended calls added to the counters: [outcome, answered within 2
#: minutes, callback made, its local date] (outcome None: outbound or not classified, nothing).
Counted = list[Any]


def counted(view: CallView) -> Counted:
    return [view.outcome, view.answered_within, view.callback_made, view.local_date]


@dataclass
class PracticeLive:
    """One practice's open calls, today's counters and recent ended calls (module doc)."""

    practice: str
    day: str = ""
    open: dict[str, CallView] = field(default_factory=dict)
    recent: dict[str, CallView] = field(default_factory=dict)  # ended in RECENT_WINDOW_S
    today: Today = field(default_factory=Today)
    last_event_at: float | None = None
    last_received_at: float | None = None

    def apply(
        self,
        views: Iterable[CallView],
        received_at: float,
        now: float,
        open_max_s: float,
        calls: MutableMapping[str, Counted],
    ) -> None:
        """Take the latest views of some calls, then forget what is no longer live.

        ``calls`` holds what each of the practice's ended calls added to today's counters
        (keyed by call id; entries of other days are ignored and may be dropped): an ended
        view replaces its call's entry there and its contribution here. An ended call counts
        for its own day only, and only while that day is today; an open call whose newest
        event is older than ``open_max_s`` is forgotten (the worker closes it as timed out,
        and a replay of an old file must not fill the queue).
        """
        self._roll_day(now)
        for view in views:
            if self.last_event_at is None or view.last_at > self.last_event_at:
                self.last_event_at = view.last_at
            before = calls.get(view.call_id)
            if before is not None and before[3] != self.day:
                before = None  # a past day's entry: that day's counters are gone
            if view.phase == "ended":
                self.open.pop(view.call_id, None)
                if before is not None:
                    self._count(before, -1)
                    self.recent.pop(view.call_id, None)
                if view.local_date == self.day:
                    entry = counted(view)
                    self._count(entry, 1)
                    calls[view.call_id] = entry
                    self.recent[view.call_id] = view
                elif before is not None:
                    del calls[view.call_id]
            elif before is None and now - view.last_at <= open_max_s:
                self.open[view.call_id] = view
        self.last_received_at = received_at
        self._drop_stale(now, open_max_s)

    def snapshot(self, now: float, open_max_s: float) -> Snapshot:
        """The wallboard's figures at ``now``."""
        today = self.day == london_day(now)
        live = [v for v in self.open.values() if now - v.last_at <= open_max_s]
        queueing = [v for v in live if v.phase == "queue"]
        longest = max((now - v.since for v in queueing), default=None)
        abandoned = recent = recent_missed = 0
        for view in self.recent.values() if today else ():
            if view.outcome is None:
                continue
            age = now - view.last_at
            missed = view.outcome == "missed"
            abandoned += missed and age <= ABANDONED_WINDOW_S
            if age <= RECENT_WINDOW_S:
                recent += 1
                recent_missed += missed
        return Snapshot(
            practice=self.practice,
            as_of=now,
            in_queue=len(queueing),
            longest_wait_s=None if longest is None else max(0, int(longest)),
            in_progress=sum(v.phase == "talking" for v in live),
            in_ivr=sum(v.phase == "ivr" for v in live),
            today=self.today.model_copy() if today else Today(),
            abandoned_15m=abandoned,
            ended_30m=recent,
            missed_30m=recent_missed,
            last_event_at=self.last_event_at,
            last_received_at=self.last_received_at,
        )

    def _count(self, entry: Counted, sign: int) -> None:
        outcome, within, made, _ = entry
        if outcome is None:
            return
        t = self.today
        setattr(t, outcome, getattr(t, outcome) + sign)
        t.inbound += sign
        t.callback_made += sign * made
        t.answered_within_2m += sign * within

    def _roll_day(self, now: float) -> None:
        day = london_day(now)
        if day != self.day:
            self.day = day
            self.today = Today()
            self.recent = {}

    def _drop_stale(self, now: float, open_max_s: float) -> None:
        stale = [k for k, v in self.open.items() if now - v.last_at > open_max_s]
        for key in stale:
            del self.open[key]
        old = [k for k, v in self.recent.items() if now - v.last_at > RECENT_WINDOW_S]
        for key in old:
            del self.recent[key]

    def shed(self, size: int, max_bytes: int) -> int:
        """Forget the least recent calls, open or ended, until the state, ``size`` bytes as
        JSON now, takes at most ``max_bytes``; how many were forgotten. The state is one
        Kafka message: a phone system that starts thousands of calls and ends none (or
        with call ids of hundreds of characters) must cost its own wallboard those calls,
        not stop the worker for every practice. Today's counters are kept whole."""
        dropped = 0
        for view in sorted([*self.open.values(), *self.recent.values()], key=lambda v: v.last_at):
            if size <= max_bytes:
                break
            size -= len(json.dumps(view.to_json()))  # and its ", ", but the last has none
            self.open.pop(view.call_id, None)
            self.recent.pop(view.call_id, None)
            dropped += 1
        return dropped

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the worker's changelog (``from_json`` reads it back)."""
        return {
            "practice": self.practice,
            "day": self.day,
            "open": [v.to_json() for v in self.open.values()],
            "recent": [v.to_json() for v in self.recent.values()],
            "today": self.today.model_dump(),
            "last_event_at": self.last_event_at,
            "last_received_at": self.last_received_at,
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], calls: MutableMapping[str, Counted] | None = None
    ) -> PracticeLive:
        """Read ``to_json``'s dict back. A state written before the counters (every ended
        call in ``ended``) is folded into them, its entries put in ``calls`` when given."""
        opened = (CallView.from_json(row) for row in data.get("open", []))
        recent = (CallView.from_json(row) for row in data.get("recent", []))
        live = cls(
            practice=data["practice"],
            day=data.get("day", ""),
            open={v.call_id: v for v in opened},
            recent={v.call_id: v for v in recent},
            today=Today(**data.get("today", {})),
            last_event_at=data.get("last_event_at"),
            last_received_at=data.get("last_received_at"),
        )
        for row in data.get("ended", []):
            view = CallView.from_json(row)
            if view.local_date == live.day:
                entry = counted(view)
                live._count(entry, 1)
                live.recent[view.call_id] = view
                if calls is not None:
                    calls[view.call_id] = entry
        return live


def roll_up(name: str, snapshots: Iterable[Snapshot], now: float) -> Snapshot:
    """The sum over several practices (a PCN or an ICB): longest wait and times are maxima."""
    parts = list(snapshots)
    waits = [s.longest_wait_s for s in parts if s.longest_wait_s is not None]
    events = [s.last_event_at for s in parts if s.last_event_at is not None]
    received = [s.last_received_at for s in parts if s.last_received_at is not None]
    today = {f: sum(getattr(s.today, f) for s in parts) for f in Today.model_fields}
    return Snapshot(
        practice=name,
        as_of=now,
        in_queue=sum(s.in_queue for s in parts),
        longest_wait_s=max(waits, default=None),
        in_progress=sum(s.in_progress for s in parts),
        in_ivr=sum(s.in_ivr for s in parts),
        today=Today(**today),
        abandoned_15m=sum(s.abandoned_15m for s in parts),
        ended_30m=sum(s.ended_30m for s in parts),
        missed_30m=sum(s.missed_30m for s in parts),
        last_event_at=max(events, default=None),
        last_received_at=max(received, default=None),
    )


def london_day(epoch: float) -> str:
    """The day in England (Europe/London) at an epoch time, ISO."""
    return to_london(datetime.fromtimestamp(epoch, UTC)).date().isoformat()
