"""The events of one call, gathered as they arrive: deduplicated and put in order.

Pure state (no Kafka): the streaming worker keeps one ``CallAssembly`` per call in a Faust
table (``to_json``/``from_json``), ``callstream classify`` keeps them in a dict
(``group_events``). Both then hand the same object to ``streams.core.classify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from annotated_types import MaxLen
from pydantic import TypeAdapter

from models.events import EventType, PseudonymisedEvent, event_sort_key

_EVENTS = TypeAdapter(list[PseudonymisedEvent])
_EVENT = TypeAdapter(PseudonymisedEvent)


def _event_bytes(event: PseudonymisedEvent) -> int:
    """The bytes ``event`` takes in a call's saved state (``CallState.to_bytes``)."""
    return len(_EVENT.dump_json(event))


def _largest_event_bytes() -> int:
    """The most bytes any one event can take in the saved state: every text field at its
    ``max_length`` of characters JSON writes as six bytes (``\\u0000``)."""
    widest: dict[str, Any] = {}
    for name, info in PseudonymisedEvent.model_fields.items():
        limit = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)
        if limit is not None:
            widest[name] = "\x00" * limit
    event = PseudonymisedEvent.model_construct(
        practice="A00000",
        type=max(EventType, key=len),
        at=datetime(9999, 12, 31, 23, 59, 59, 999999, timezone(-timedelta(hours=23, minutes=59))),
        direction="outbound",
        request_type="prescriptions",
        target="online_consultation",
        role="care_navigator",
        outcome="unanswered",
        time_known=False,
        **widest,
    )
    return _event_bytes(event)


#: ``_largest_event_bytes()``: below ``CallSpan.most_bytes`` / this many events, a call's
#: state cannot reach its byte budget, so its size is not measured (most calls never are).
LARGEST_EVENT_BYTES = _largest_event_bytes()
#: Room in one Kafka message for what the saved state holds besides its events, and the key.
_STATE_OVERHEAD_BYTES = 8192


def state_budget(message_max_bytes: int) -> int:
    """``CallSpan.most_bytes`` for a largest Kafka message of ``message_max_bytes``: a full
    call may still take one event of each type it lacks (``CallAssembly.add``)."""
    return message_max_bytes - len(EventType) * LARGEST_EVENT_BYTES - _STATE_OVERHEAD_BYTES


@dataclass(frozen=True)
class CallSpan:
    """How far in event time the events of one call may be from its ``call_started``
    (settings ``call_max_span_s`` and, for ``callback_made``, the longer of
    ``call_retention_s`` and ``callback_retention_s``)."""

    events: timedelta  # any event, before or after the call_started
    callbacks: timedelta  # a callback_made, after the call_started
    #: The most events one call holds (settings ``call_max_events``): its state is one Kafka
    #: message. From half of it, an event that cannot change the call is not kept
    #: (``CallAssembly.add``).
    most_events: int = 600
    #: The most bytes the events of one call take saved (``state_budget``): a count of
    #: events cannot bound it, as a character may take one byte or six.
    most_bytes: int = state_budget(1_000_000)


class OutsideCall(ValueError):
    """An event too far in time from the other events of its call to be part of it."""

    field = "at"


class CallFull(OutsideCall):
    """An event of a call that holds ``CallSpan.most_events`` (or ``most_bytes``) already."""

    field = "call_id"


#: Event types of which a call uses only the first (classification, the live view): a later
#: one changes nothing.
_FIRST_ONLY = frozenset(
    {
        EventType.call_started,
        EventType.queue_joined,
        EventType.ringing,
        EventType.answered,
        EventType.voicemail,
        EventType.callback_requested,
    }
)


def held_back_reason(count: int, span: CallSpan) -> str:
    """Why the ``count`` events a call still held back when it was let go (no
    ``call_started`` came to say which events belong) are not part of it."""
    return (
        f"field 'at': {count} event(s) more than twice call_max_span_s "
        f"({2 * int(span.events.total_seconds())} s) from this call's other events, and no "
        "call_started came to say which belong: not part of this call"
    )


def set_aside_reason(count: int, span: CallSpan) -> str:
    """Why ``count`` events ``CallAssembly.add`` set aside are not part of their call."""
    return (
        f"field 'at': {count} event(s) more than call_max_span_s "
        f"({int(span.events.total_seconds())} s) from this call's call_started (a "
        f"callback_made: more than callback_retention_s, {int(span.callbacks.total_seconds())}"
        " s, after it), which came after them: not part of this call"
    )


class CallAssembly:
    """The distinct events of one call (by ``event_id``; the first copy received counts)."""

    __slots__ = (
        "_by_id",
        "_sorted",
        "_complete",
        "_last_at",
        "_key",
        "_call",
        "_all",
        "_start",
        "_set_aside",
        "_held_back",
        "_absorbed",
        "_bytes",
    )

    def __init__(self, events: Iterable[PseudonymisedEvent] = ()) -> None:
        self._by_id: dict[str, PseudonymisedEvent] = {}
        self._sorted: list[PseudonymisedEvent] | None = []
        self._complete = False
        self._last_at: datetime | None = None
        self._key: str | None = None
        self._call: tuple[datetime, datetime] | None = None  # earliest, latest but callbacks
        self._all: tuple[datetime, datetime] | None = None  # earliest, latest of all
        self._start: datetime | None = None  # the time of the call_started held
        self._set_aside: list[PseudonymisedEvent] = []
        self._held_back: list[PseudonymisedEvent] = []  # before the start, not fitting
        self._absorbed = 0
        self._bytes: int | None = None  # of the events held; None until it matters
        for event in events:
            self.add(event)

    def add(self, event: PseudonymisedEvent, span: CallSpan | None = None) -> bool:
        """Add an event; False (and nothing changes) when its ``event_id`` was seen before.

        Raises ``ValueError`` for an event of another call: mixing calls would make up data;
        with a ``span``, ``OutsideCall`` for an event too far in time from the call's
        ``call_started`` (the wait, talk and callback times must be times one call can take).
        The ``call_started`` anchors the call whenever it comes: the events held before it
        that lie too far from it are set aside then (``take_set_aside``), as they would have
        been refused after it, so which events count does not depend on the order they came
        in. Before it, an event that no one start could hold with the events held (more
        than twice the span apart: a wrong clock on one side) is held back, out of the call,
        until the start says which side belongs; a call let go without one gives them up
        (``take_held_back``). A call holds at most ``span.most_events`` (held back ones
        too), and then one more of each type it has none of (its end, a callback):
        ``CallFull`` after that; the same for the bytes its events take saved
        (``span.most_bytes``). Once it holds its start and half as many, an event that
        cannot change it is not kept (False, as for a repeat), so a phone system that
        repeats ringing all through a long wait never fills it.
        """
        key = event.key
        if self._key is None:
            self._key = key
        elif key != self._key:
            raise ValueError(f"event of call {key} added to call {self._key}")
        if event.event_id in self._by_id:
            return False
        callback = event.type is EventType.callback_made
        if self._held_back and not self._replaces_held_back(event, callback, span):
            return False
        size: int | None = None
        if span is not None:
            count = len(self._by_id) + len(self._held_back)
            if self._start is not None:
                _check_fits(event.at, callback, self._start, span)
                if count >= span.most_events // 2 and self._changes_nothing(event):
                    self._absorbed += 1
                    return False
            if count >= span.most_events and self._holds(event.type):
                raise CallFull(
                    f"field 'call_id': this call holds {count} events already, the "
                    "most one call may (call_max_events): a phone system repeating events? "
                    "not part of this call"
                )
            size = self._measure(event, span)
            if size is not None:
                self._check_room(event.type, size, span)
            if self._start is None and event.type is EventType.call_started:
                self._anchor(event.at, span)
            elif self._start is None and not self._fits_held(event.at, callback, span):
                if callback or self._call is not None:
                    self._held_back.append(event)
                    self._add_bytes(size)
                    return True
                # only callbacks held: they make no call (an orphan), this event may; they
                # wait for the start instead
                self._held_back += self._by_id.values()
                self._keep([])
        self._hold(event)
        self._add_bytes(size)
        return True

    def _replaces_held_back(
        self, event: PseudonymisedEvent, callback: bool, span: CallSpan | None
    ) -> bool:
        """Whether ``event`` is new to the call given what it holds back: True unless a copy
        of it (its ``event_id``) is held back. A copy held back is not part of the call, so
        a later copy that fits the events held (a corrected resend) takes its place."""
        copy = next((e for e in self._held_back if e.event_id == event.event_id), None)
        if copy is None:
            return True
        if span is None or not self._fits_held(event.at, callback, span):
            return False
        self._held_back.remove(copy)
        self._bytes = None  # measured again when it matters
        return True

    def _add_bytes(self, size: int | None) -> None:
        if size is not None and self._bytes is not None:
            self._bytes += size

    def _measure(self, event: PseudonymisedEvent, span: CallSpan) -> int | None:
        """The bytes ``event`` takes saved, once the call holds enough events to come near
        ``span.most_bytes`` (then the events held are measured too); else None."""
        if (len(self._by_id) + len(self._held_back) + 1) * LARGEST_EVENT_BYTES <= span.most_bytes:
            return None
        if self._bytes is None:
            self._bytes = sum(_event_bytes(e) for e in (*self._by_id.values(), *self._held_back))
        return _event_bytes(event)

    def _check_room(self, kind: EventType, size: int, span: CallSpan) -> None:
        held = self._bytes or 0
        if held + size > span.most_bytes and self._holds(kind):
            count = len(self._by_id) + len(self._held_back)
            raise CallFull(
                f"field 'call_id': this call's {count} events take {held:,} bytes "
                f"saved; with this one's {size:,} they would pass the {span.most_bytes:,} one "
                "call may hold (kafka_message_max_bytes, less room for its end): a phone "
                "system repeating events? not part of this call"
            )

    def _changes_nothing(self, event: PseudonymisedEvent) -> bool:
        """A later copy of what the call uses only the first of (a ring group ringing every
        phone every 15 s for half an hour): the call is the same with it or without it.
        Asked only once the start is held: before it, the first held may yet be set aside
        (a wrong clock), and the later copy would then be the one the call needs."""
        if event.type not in _FIRST_ONLY:
            return False
        held = next((e for e in self.events if e.type is event.type), None)
        return held is not None and event_sort_key(held) <= event_sort_key(event)

    def _holds(self, kind: EventType) -> bool:
        """Whether the call has an event of ``kind``, held or held back."""
        return any(e.type is kind for e in (*self._by_id.values(), *self._held_back))

    @property
    def absorbed(self) -> int:
        """Events ``add`` did not keep because they could not change the call (above)."""
        return self._absorbed

    def take_held_back(self) -> list[PseudonymisedEvent]:
        """The events still held back (``add``) when the call is let go without the
        ``call_started`` that would say whether they belong, once: the caller dead-letters
        them (``held_back_reason``)."""
        taken, self._held_back = self._held_back, []
        if taken:
            self._bytes = None
        return taken

    def take_set_aside(self) -> list[PseudonymisedEvent]:
        """The events the last ``add`` set aside (see there), once: the caller dead-letters
        them, as it does an event ``add`` refuses."""
        taken, self._set_aside = self._set_aside, []
        return taken

    def _hold(self, event: PseudonymisedEvent) -> None:
        self._by_id[event.event_id] = event
        self._sorted = None
        if event.type is EventType.call_ended:
            self._complete = True
        if event.type is EventType.call_started and self._start is None:
            self._start = event.at
        if self._last_at is None or event.at > self._last_at:
            self._last_at = event.at
        self._all = _widened(self._all, event.at)
        if event.type is not EventType.callback_made:
            self._call = _widened(self._call, event.at)

    def _anchor(self, started: datetime, span: CallSpan) -> None:
        """Keep the events held or held back that fit a call starting at ``started``; set
        aside the others."""
        kept: list[PseudonymisedEvent] = []
        dropped: list[PseudonymisedEvent] = []
        held_back, self._held_back = self._held_back, []
        for event in sorted((*self._by_id.values(), *held_back), key=event_sort_key):
            (kept if _fits(event, started, span) else dropped).append(event)
        if not dropped and not held_back:
            return
        self._keep(kept)
        self._set_aside = dropped

    def _keep(self, kept: list[PseudonymisedEvent]) -> None:
        """Hold ``kept`` only (the others have gone elsewhere)."""
        self._by_id.clear()
        self._complete, self._last_at, self._call, self._all = False, None, None, None
        self._bytes = None  # measured again when it matters
        for event in kept:
            self._hold(event)

    def _fits_held(self, at: datetime, callback: bool, span: CallSpan) -> bool:
        """Before the call_started: whether ``at`` and the events held could still share one
        start (each call event within the span of it, a callback up to ``span.callbacks``
        after)."""
        for window, limit in (
            (None if callback else self._call, 2 * span.events),
            (self._all, span.events + span.callbacks),
        ):
            if window is None:
                continue
            earliest, latest = _widened(window, at)
            if latest - earliest > limit:
                return False
        return True

    @property
    def key(self) -> str | None:
        """``practice:call_id`` of the call; None while empty."""
        return self._key

    @property
    def events(self) -> list[PseudonymisedEvent]:
        """The distinct events in call order (``models.events.event_sort_key``)."""
        if self._sorted is None:
            self._sorted = sorted(self._by_id.values(), key=event_sort_key)
        return self._sorted

    @property
    def inbound(self) -> bool:
        """The call's direction: its ``call_started``'s (inbound when it says none); when no
        start has come, the first event that says one (a system that marks every event
        outbound); else inbound, design.md's default."""
        events = self.events
        started = next((e for e in events if e.type is EventType.call_started), None)
        if started is not None:  # design.md: direction is the start's, inbound by default
            return started.direction != "outbound"
        return next((e.direction for e in events if e.direction), None) != "outbound"

    @property
    def callback_requested(self) -> bool:
        """The caller asked to be called back (the call may still get a ``callback_made``);
        one held back is not part of the call (yet)."""
        return any(e.type is EventType.callback_requested for e in self._by_id.values())

    @property
    def complete(self) -> bool:
        """The call has ended (a ``call_ended`` arrived); late callbacks may still come."""
        return self._complete

    @property
    def last_event_at(self) -> datetime | None:
        """The latest ``at`` among the events (event time, not arrival time)."""
        return self._last_at

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def kept_in_order(self) -> list[PseudonymisedEvent]:
        """The events held, in the order they were kept: what a saved state holds, so that
        the state read back (``from_json``) is anchored by the same ``call_started``."""
        return list(self._by_id.values())

    @property
    def held_back(self) -> list[PseudonymisedEvent]:
        """The events held back until a ``call_started`` says whether they belong (``add``)."""
        return list(self._held_back)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (json.dumps it) that ``from_json`` turns back into the same state."""
        data: dict[str, Any] = {"events": [e.model_dump(mode="json") for e in self._by_id.values()]}
        if self._held_back:
            data["held_back"] = [e.model_dump(mode="json") for e in self._held_back]
        return data

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> CallAssembly:
        """The assembly ``to_json`` described (as a dict, or its JSON text or bytes)."""
        raw = json.loads(data) if isinstance(data, bytes | str) else data
        assembly = cls(_EVENTS.validate_python(raw["events"]))
        assembly._held_back = _EVENTS.validate_python(raw.get("held_back", []))
        return assembly


def _fits(event: PseudonymisedEvent, started: datetime, span: CallSpan) -> bool:
    """Whether ``event`` belongs to a call that started at ``started`` (``_check_fits``)."""
    try:
        _check_fits(event.at, event.type is EventType.callback_made, started, span)
    except OutsideCall:
        return False
    return True


def _check_fits(at: datetime, callback: bool, started: datetime, span: CallSpan) -> None:
    """An event belongs to the call that started at ``started`` when it is within
    ``span.events`` of it (before it too: clocks differ), a ``callback_made`` up to
    ``span.callbacks`` after it. A rule of the event and the start alone, so the order the
    events come in cannot change which ones count."""
    later = span.callbacks if callback else span.events
    after = at - started  # a difference, never a date: year 1 and 9999 have no room around
    if -span.events <= after <= later:
        return
    apart = int(abs(after.total_seconds()))
    what, limit = (
        ("callback_retention_s", span.callbacks)
        if callback and at > started
        else ("call_max_span_s", span.events)
    )
    raise OutsideCall(
        f"field 'at': {apart} s from this call's call_started, more than {what} "
        f"({int(limit.total_seconds())} s) allows: not part of this call"
    )


def _widened(window: tuple[datetime, datetime] | None, at: datetime) -> tuple[datetime, datetime]:
    if window is None:
        return at, at
    return min(window[0], at), max(window[1], at)


def group_events(events: Iterable[PseudonymisedEvent]) -> dict[str, CallAssembly]:
    """The events grouped by call (``practice:call_id``), in order of first appearance."""
    calls: dict[str, CallAssembly] = {}
    for event in events:
        key = event.key
        assembly = calls.get(key)
        if assembly is None:
            assembly = calls[key] = CallAssembly()
        assembly.add(event)
    return calls
