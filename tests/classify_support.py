"""Build a call's events from a short script, for the classification tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.events import CallEvent, EventBounds, PseudonymisedEvent
from streams.core.pseudonymise import pseudonymise

KEY = b"test-key-not-secret"
PRACTICE = "A12345"

#: The rulebook cases run to 2027 (bank holidays): accept events years ahead of today.
ANY_YEAR = {"event_bounds": EventBounds(max_future=timedelta(days=3650))}
#: Fields a step needs by event type, so scripts only say what matters.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "call_started": {"caller": "07700 900123"},
    "ivr_option": {"option": "1"},
    "ivr_divert": {"target": "pharmacy"},
    "queue_joined": {"queue": "main"},
    "ringing": {"team": "reception", "role": "care_navigator"},
    "answered": {"team": "reception", "role": "care_navigator"},
    "transferred": {"team": "results", "role": "nurse"},
    "callback_made": {"outcome": "answered"},
}


def call(
    start: str, steps: list[tuple[float, str] | tuple[float, str, dict[str, Any]]], call_id="c1"
) -> list[PseudonymisedEvent]:
    """Events of one call: each step is (seconds after ``start``, type[, fields])."""
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    events = []
    for i, step in enumerate(steps, start=1):
        offset, kind = step[0], step[1]
        fields = {**_DEFAULTS.get(kind, {}), **(step[2] if len(step) > 2 else {})}
        raw = CallEvent.model_validate(
            {
                "practice": fields.pop("practice", PRACTICE),
                "call_id": call_id,
                "event_id": fields.pop("event_id", f"{call_id}-e{i}"),
                "type": kind,
                "at": t0 + timedelta(seconds=offset),
                **fields,
            },
            context=ANY_YEAR,
        )
        events.append(pseudonymise(raw, KEY))
    return events
