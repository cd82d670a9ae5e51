"""Canonical call events v1: what every adapter produces and the HTTP API accepts.

A public contract (design.md). One flat JSON object per event. ``CallEvent`` is the wire
form and carries the caller's number as the phone system gave it; ``PseudonymisedEvent``
is the same event after the first hop, with the number replaced by a keyed pseudonym, and
is the only form that may reach a topic, a table or a log after the raw-events topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

ODS_PATTERN = r"^[A-Z][0-9]{5}$"  # ASCII digits: regex \d also takes ０-９ and the like
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class EventBounds:
    """The event times the first hop accepts: what the calendar, the classifier and the
    warehouse's columns can hold. Commands set them from CALLSTREAM_EVENT_* settings
    (``set_event_bounds``); a validation context ``{"event_bounds": EventBounds(...)}``
    overrides them for one validation."""

    earliest: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    max_future: timedelta = timedelta(hours=24)


_bounds = EventBounds()


def set_event_bounds(bounds: EventBounds) -> EventBounds:
    """Use ``bounds`` for every event validated in this process from now; returns the old."""
    global _bounds
    previous, _bounds = _bounds, bounds
    return previous


#: RFC 3339 starts with a full date and hours:minutes; pydantic checks the rest (an offset).
_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_AT_HELP = "must be an RFC 3339 time with offset, e.g. 2026-08-03T07:30:00Z"
_DIGIT = re.compile(r"\d")  # any script's digits: phonenumbers reads full-width ones
_SPACES = re.compile(r"[\s-]+")
#: C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class EventType(StrEnum):
    call_started = "call_started"
    ivr_option = "ivr_option"
    ivr_divert = "ivr_divert"
    queue_joined = "queue_joined"
    ringing = "ringing"
    callback_requested = "callback_requested"
    callback_made = "callback_made"
    answered = "answered"
    transferred = "transferred"
    voicemail = "voicemail"
    call_ended = "call_ended"


RequestType = Literal["appointments", "prescriptions", "results", "admin", "urgent", "other"]
DivertTarget = Literal["pharmacy", "nhs111", "online_consultation", "other"]
Role = Literal["care_navigator", "gp", "nurse", "pharmacist", "admin"]
Direction = Literal["inbound", "outbound"]
CallbackOutcome = Literal["answered", "unanswered"]

WITHHELD = "withheld"
#: What phone systems write for a number they do not show; all mean "withheld".
WITHHELD_SYNONYMS = frozenset(
    {"withheld", "anonymous", "private", "restricted", "unavailable", "unknown"}
)

#: Which fields each event type must carry (beyond the ones every event has).
REQUIRED_FOR: dict[EventType, tuple[str, ...]] = {
    EventType.call_started: ("caller",),
    EventType.ivr_option: ("option",),
    EventType.ivr_divert: ("target",),
    EventType.queue_joined: ("queue",),
    EventType.ringing: ("team",),
    EventType.answered: ("team",),
    EventType.transferred: ("team",),
    EventType.callback_made: ("outcome",),
}


class _EventFields(BaseModel):
    """Fields shared by the wire form and the pseudonymised form."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    practice: str = Field(pattern=ODS_PATTERN, description="ODS code of the practice")
    call_id: str = Field(min_length=1, max_length=200)
    event_id: str = Field(min_length=1, max_length=200)
    type: EventType
    at: AwareDatetime = Field(description="RFC 3339 with offset; a naive time is an error")
    direction: Direction | None = None
    option: str | None = Field(None, max_length=50)
    request_type: RequestType | None = None
    target: DivertTarget | None = None
    queue: str | None = Field(None, max_length=200)
    team: str | None = Field(None, max_length=200)
    role: Role | None = None  # optional: the rules' team -> role map knows a team's role
    outcome: CallbackOutcome | None = None
    time_known: bool | None = Field(
        None,
        description="false: the phone system recorded that this happened but not when; `at` "
        "only orders the event and no wait or talk is measured from it",
    )
    # --- extension: who picked up (optional on answered events; staffing counts people) ---
    agent: str | None = Field(
        None,
        max_length=64,
        description="extension or agent id of the person who answered; never a phone number",
    )

    @field_validator("direction", "request_type", "target", "role", "outcome", mode="before")
    @classmethod
    def _choice_as_written(cls, value: Any) -> Any:
        # Phone systems write "" for a field they leave out, and their own case and spaces
        # ("Care Navigator"): an optional field left blank is absent (role then comes from
        # the rules, never a rejected event); a value is matched ignoring case and spaces.
        if not isinstance(value, str):
            return value
        value = value.strip()
        return _SPACES.sub("_", value.lower()) if value else None

    @field_validator("at", mode="before")
    @classmethod
    def _at_is_rfc3339(cls, value: Any) -> Any:
        # A number, or a string of digits, would parse as a Unix time (and a phone number
        # could be read back from started_at): the contract is an RFC 3339 string.
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(_AT_HELP)
        value = value.strip()
        if not _RFC3339_START.match(value):
            raise ValueError(_AT_HELP)
        return value

    @model_validator(mode="after")
    def _required_for_type(self) -> _EventFields:
        for name in REQUIRED_FOR.get(self.type, ()):
            if name == "caller":
                continue  # checked by the form that carries the caller
            if getattr(self, name) in (None, ""):
                raise ValueError(f"field '{name}' is required for a {self.type.value} event")
        return self

    @property
    def is_inbound(self) -> bool:
        return self.direction != "outbound"


class CallEvent(_EventFields):
    """A canonical v1 event as received: ``caller`` is the raw number (or ``withheld``).

    The first hop's rules live here, so HTTP, ``push`` and the worker agree: times within
    ``EventBounds``, no control characters in any text. (``PseudonymisedEvent`` is only
    made from a valid ``CallEvent`` and read back from the worker's own state.)
    """

    caller: str | None = Field(None, max_length=64)

    @field_validator("call_id", "event_id", "option", "queue", "team", "caller", "agent")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        if value is not None:
            found = _CONTROL.search(value)
            if found:
                raise ValueError(
                    f"must not contain control characters (U+{ord(found.group()):04X} at "
                    f"position {found.start()})"
                )
        return value

    @field_validator("at")
    @classmethod
    def _at_within_bounds(cls, value: datetime, info: ValidationInfo) -> datetime:
        context = info.context if isinstance(info.context, dict) else {}
        bounds = context.get("event_bounds") or _bounds
        if value < bounds.earliest:
            raise ValueError(
                f"is before {bounds.earliest.isoformat()}, the earliest time accepted "
                "(CALLSTREAM_EVENT_EARLIEST)"
            )
        latest = datetime.now(UTC) + bounds.max_future
        if value > latest:
            hours = bounds.max_future.total_seconds() / 3600
            raise ValueError(
                f"is more than {hours:g} h in the future (CALLSTREAM_EVENT_MAX_FUTURE_S); "
                "check the phone system's clock and time zone"
            )
        return value

    @field_validator("caller")
    @classmethod
    def _caller_withheld(cls, value: str | None) -> str | None:
        # Text without a digit ("Number withheld", "Private Number", a SIP name) shows no
        # number: all of it would otherwise share one pseudonym and count as one repeat caller.
        if value is None or not value.strip():
            return value  # required on call_started (_caller_required says so)
        if value.strip().lower() in WITHHELD_SYNONYMS or not _DIGIT.search(value):
            return WITHHELD
        return value

    @model_validator(mode="after")
    def _caller_required(self) -> CallEvent:
        if self.type is EventType.call_started and not self.caller:
            raise ValueError(
                "field 'caller' is required for a call_started event (a number or 'withheld')"
            )
        return self


class PseudonymisedEvent(_EventFields):
    """An event after the first hop: the number replaced by ``caller_key``.

    ``caller_key`` is null when the caller withheld their number; ``caller_withheld`` tells
    that apart from events that never carry a caller.
    """

    # Masking a phone number in a free-text field may lengthen it (9 digits -> 16 letters).
    call_id: str = Field(min_length=1, max_length=400)
    event_id: str = Field(min_length=1, max_length=400)
    option: str | None = Field(None, max_length=100)
    queue: str | None = Field(None, max_length=400)
    team: str | None = Field(None, max_length=400)
    agent: str | None = Field(None, max_length=128)
    schema_version: int = SCHEMA_VERSION
    caller_key: str | None = Field(None, max_length=64)  # a pseudonym: 32 hex digits
    caller_withheld: bool = False

    @property
    def key(self) -> str:
        return call_key(self.practice, self.call_id)


def call_key(practice: str, call_id: str) -> str:
    """The Kafka key and table key of a call: practice + call id."""
    return f"{practice}:{call_id}"


def event_sort_key(event: _EventFields) -> tuple[datetime, int, str]:
    """Order events of one call by time; at equal times by the life cycle of a call."""
    return (event.at, _TYPE_ORDER[event.type], event.event_id)


_TYPE_ORDER = {t: i for i, t in enumerate(EventType)}
