"""What the worker keeps per call between events, and when it reports, closes or forgets one.

Pure logic (no Kafka): the streaming agent calls ``receive`` for every event and ``sweep``
on a timer; both take the time as an argument so tests drive the clock. Times are the
worker's wall clock (processing time), not the events' ``at``: a file of last month's calls
replayed today must not time out on arrival.

Life of a call in the state:

- events are added (``CallAssembly`` ignores a repeated ``event_id``);
- it is *reported* (classified and emitted) when it completes at ``call_ended``, and again
  whenever a new event changes a reported call (a late ``callback_made``);
- a call with no ``call_ended`` for ``timeout_s`` after its last event is closed and
  reported with ``complete = false``; later events update it;
- ``retention_s`` after its last event a reported call is evicted, so the state stays
  bounded (``callback_retention_s``, longer, for a call that requested a callback); the
  events it still held back (no ``call_started`` came to place them) are dead-lettered. A
  later event for it starts a fresh state. A fresh state holding nothing but
  ``callback_made`` events is an *orphan* (the late callback of an evicted call, or a call
  whose other events never came): it is never reported as a call of its own, because that
  call would be made up; after the timeout it goes to the dead-letter topic instead.
- A duplicate ``call_ended`` or ``callback_made`` re-reports a reported call. This repairs the
  one gap of at-least-once processing (state saved but the classified call not yet sent
  when the worker died); the warehouse MERGE makes the repeat harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from pydantic import TypeAdapter

from models.events import EventType, PseudonymisedEvent
from streams.core.assemble import CallAssembly, CallSpan

_REREPORT_ON_DUPLICATE = frozenset({EventType.call_ended, EventType.callback_made})
_EVENT_LIST = TypeAdapter(list[PseudonymisedEvent])


@dataclass
class CallState:
    """One call's events plus the worker's bookkeeping about it."""

    assembly: CallAssembly
    last_seen: float
    timed_out: bool = False
    #: The raw topic's partition (and the changelog's): the key's hash cannot say, as the
    #: key holds the masked call id and the raw topic was partitioned by the call id sent.
    partition: int | None = None

    @property
    def orphan(self) -> bool:
        """Only ``callback_made`` events: not a call we may report (see module doc). (A call
        holds back other events only while it holds some of its own: ``CallAssembly.add``.)"""
        events = self.assembly.events
        return bool(events) and all(e.type is EventType.callback_made for e in events)

    @property
    def reportable(self) -> bool:
        return (self.assembly.complete or self.timed_out) and not self.orphan

    def to_bytes(self) -> bytes:
        """``{"a": {"events": [...], "held_back": [...]}, "seen": ..., "timed_out": ...,
        "p": ...}`` for the changelog (``p`` and ``held_back``, written only when there are
        any, are new: states written before them read as partition unknown, none held back).

        Written once per changed call per batch, so the events are serialised in one pydantic
        call (a quarter of the cost of ``CallAssembly.to_json`` plus ``json.dumps``); the
        layout is the one ``from_bytes`` has always read.
        """
        events = _EVENT_LIST.dump_json(self.assembly.kept_in_order)
        held_back = self.assembly.held_back
        if held_back:
            events += b',"held_back":' + _EVENT_LIST.dump_json(held_back)
        rest = json.dumps(
            {"seen": self.last_seen, "timed_out": self.timed_out, "p": self.partition}
        )
        return b'{"a":{"events":' + events + b"}," + rest[1:].encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CallState:
        raw = json.loads(data)
        return cls(
            CallAssembly.from_json(raw["a"]),
            float(raw["seen"]),
            bool(raw["timed_out"]),
            raw.get("p"),
        )


def receive(
    state: CallState | None, event: PseudonymisedEvent, now: float, span: CallSpan | None = None
) -> tuple[CallState, bool, bool]:
    """Add an event. Returns (state, changed: save it, report: classify and emit it).

    Raises ``OutsideCall`` (nothing changed) for an event outside the call's ``span``.
    """
    if state is None:
        state = CallState(CallAssembly(), now)
    added = state.assembly.add(event, span)
    if added:
        state.last_seen = now
        return state, True, state.reportable
    return state, False, state.reportable and event.type in _REREPORT_ON_DUPLICATE


class Sweep(Enum):
    keep = "keep"
    close = "close"  # timed out: mark, report with complete = false
    evict = "evict"  # forget: reported long enough ago
    orphan = "orphan"  # dead-letter its events, then forget


def sweep(
    state: CallState, now: float, timeout_s: float, retention_s: float, callback_retention_s: float
) -> Sweep:
    """What the timer does with a call it finds in the state. A call that requested a
    callback is kept ``callback_retention_s`` (when longer): the practice may ring back after
    a weekend, and that callback counts for CBT006 only while its call is held."""
    idle = now - state.last_seen
    if state.orphan:
        return Sweep.orphan if idle >= timeout_s else Sweep.keep
    if state.assembly.complete or state.timed_out:
        if idle < retention_s or (
            idle < callback_retention_s and state.assembly.callback_requested
        ):
            return Sweep.keep
        return Sweep.evict
    return Sweep.close if idle >= timeout_s else Sweep.keep
