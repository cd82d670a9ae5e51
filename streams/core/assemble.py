"""The events of one call, gathered as they arrive: deduplicated and put in order.

Pure state (no Kafka): the streaming worker keeps one ``CallAssembly`` per call in a Faust
table (``to_json``/``from_json``), ``callstream classify`` keeps them in a dict
(``group_events``). Both then hand the same object to ``streams.core.classify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from models.events import EventType, PseudonymisedEvent, event_sort_key

_EVENTS = TypeAdapter(list[PseudonymisedEvent])


class CallAssembly:
    """The distinct events of one call (by ``event_id``; the first copy received counts)."""

    __slots__ = ("_by_id", "_sorted", "_complete", "_last_at", "_key")

    def __init__(self, events: Iterable[PseudonymisedEvent] = ()) -> None:
        self._by_id: dict[str, PseudonymisedEvent] = {}
        self._sorted: list[PseudonymisedEvent] | None = []
        self._complete = False
        self._last_at: datetime | None = None
        self._key: str | None = None
        for event in events:
            self.add(event)

    def add(self, event: PseudonymisedEvent) -> bool:
        """Add an event; False (and nothing changes) when its ``event_id`` was seen before.

        Raises ``ValueError`` for an event of another call: mixing calls would make up data.
        """
        key = event.key
        if self._key is None:
            self._key = key
        elif key != self._key:
            raise ValueError(f"event of call {key} added to call {self._key}")
        if event.event_id in self._by_id:
            return False
        self._by_id[event.event_id] = event
        self._sorted = None
        if event.type is EventType.call_ended:
            self._complete = True
        if self._last_at is None or event.at > self._last_at:
            self._last_at = event.at
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
    def complete(self) -> bool:
        """The call has ended (a ``call_ended`` arrived); late callbacks may still come."""
        return self._complete

    @property
    def last_event_at(self) -> datetime | None:
        """The latest ``at`` among the events (event time, not arrival time)."""
        return self._last_at

    def __len__(self) -> int:
        return len(self._by_id)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (json.dumps it) that ``from_json`` turns back into the same state."""
        return {"events": [e.model_dump(mode="json") for e in self._by_id.values()]}

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> CallAssembly:
        """The assembly ``to_json`` described (as a dict, or its JSON text or bytes)."""
        raw = json.loads(data) if isinstance(data, bytes | str) else data
        return cls(_EVENTS.validate_python(raw["events"]))


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
