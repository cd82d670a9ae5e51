"""Turn an HTTP ingest body into canonical events, or into errors a supplier can act on.

Pure: no Kafka, no web server. The body is a JSON array of events or NDJSON (one event
per line; a single JSON object is NDJSON of one line). A body is accepted all-or-nothing:
if any event is invalid, none is produced, so a supplier can fix and resend the whole body
without working out which events already went through. Error messages never quote the
submitted values (a caller's number must not be echoed into logs or client error trackers).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from models.events import CallEvent
from streams.core import errors
from streams.core.repeated_keys import REPEATED, Repeated, keep_repeats

#: Most per-event errors listed in one response; the summary still counts them all.
MAX_DETAILS = 100


class ErrorDetail(BaseModel):
    """One problem: which event (0-based index in the body), which field, what is wrong."""

    index: int | None = None
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    """The JSON body of every error response."""

    error: str
    details: list[ErrorDetail] = []


class MalformedBody(Exception):
    """The body is not a JSON array or NDJSON of objects (HTTP 400)."""

    def __init__(self, error: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(error)
        self.body = ErrorBody(error=error, details=details or [])


class InvalidEvents(Exception):
    """Some events break the canonical v1 contract or the URL's practice (HTTP 422)."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body.error)
        self.body = body


def parse_body(body: bytes) -> list[Any]:
    """The items of a JSON array or NDJSON body, not yet validated."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            f"body is not UTF-8 text (byte {exc.start} is invalid); send JSON encoded as UTF-8"
        ) from exc
    stripped = text.lstrip()
    if not stripped:
        raise MalformedBody("body is empty; send a JSON array or NDJSON of call events")
    if stripped.startswith("["):
        return _parse_array(text)
    return _parse_ndjson(text)


def _loads(text: str) -> Any:
    """``json.loads``, but JSON the parser cannot take is a client error (``ValueError``)."""
    try:
        return json.loads(text, object_pairs_hook=keep_repeats)
    except RecursionError:
        raise ValueError("nested too deeply (events are flat objects)") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # Python's own words point at its settings, not at the body
        if "digits" not in str(exc):
            raise
        raise ValueError(
            "a number of more than 4,300 digits (no event field holds a number that long)"
        ) from None


def _parse_array(text: str) -> list[Any]:
    try:
        items = _loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # too deep, or an integer too long to convert
        raise MalformedBody(f"body is not valid JSON: {exc}") from exc
    if not isinstance(items, list):  # pragma: no cover - text starts with '['
        raise MalformedBody("body must be a JSON array of events")
    if not items:
        raise MalformedBody("the JSON array is empty; send at least one event")
    return items


def _parse_ndjson(text: str) -> list[Any]:
    items: list[Any] = []
    details: list[ErrorDetail] = []
    bad = 0
    # Lines end at LF (CRLF's CR is JSON whitespace): str.splitlines would also split at
    # U+2028 and other characters a JSON string may hold raw.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(_loads(line))
        except ValueError as exc:  # JSONDecodeError, too deep, an integer too long
            bad += 1
            if len(details) == MAX_DETAILS:
                continue
            why = (
                f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
            )
            details.append(
                ErrorDetail(
                    index=len(items) + bad - 1, message=f"line {lineno} is not valid JSON: {why}"
                )
            )
    if bad:
        shown = "" if bad <= MAX_DETAILS else f" (first {MAX_DETAILS} listed)"
        raise MalformedBody(
            f"{bad} NDJSON line(s) are not valid JSON; nothing was accepted{shown}", details
        )
    return items


def validate_events(items: list[Any], practice: str) -> list[CallEvent]:
    """Every item as a ``CallEvent`` of ``practice``, or ``InvalidEvents`` naming each problem."""
    events: list[CallEvent] = []
    details: list[ErrorDetail] = []
    bad = 0
    for index, item in enumerate(items):
        problems = _problems(index, item, practice, events)
        if problems:
            bad += 1
            details.extend(problems)
            if len(details) >= MAX_DETAILS and index + 1 < len(items):
                # Enough to act on; checking a huge bad body to the end only costs CPU.
                raise InvalidEvents(
                    ErrorBody(
                        error=f"at least {bad} of {len(items)} events are invalid (checking "
                        f"stopped after {MAX_DETAILS} problems); nothing was accepted",
                        details=details[:MAX_DETAILS],
                    )
                )
    if bad:
        listed = "" if len(details) <= MAX_DETAILS else f" (the first {MAX_DETAILS} problems)"
        raise InvalidEvents(
            ErrorBody(
                error=f"{bad} of {len(items)} events are invalid; nothing was accepted{listed}",
                details=details[:MAX_DETAILS],
            )
        )
    return events


def _problems(index: int, item: Any, practice: str, events: list[CallEvent]) -> list[ErrorDetail]:
    """Problems of one item; a valid item is appended to ``events``."""
    if not isinstance(item, dict):
        kind = "array" if isinstance(item, list) else type(item).__name__
        return [ErrorDetail(index=index, message=f"event must be a JSON object, not {kind}")]
    # Which of two ``type``s or ``at``s the phone system meant is not known; a repeated
    # unknown field is refused as unknown below.
    repeated = sorted(
        n for n, v in item.items() if isinstance(v, Repeated) and n in CallEvent.model_fields
    )
    if repeated:
        return [ErrorDetail(index=index, field=name, message=REPEATED) for name in repeated]
    try:
        event = CallEvent.model_validate(item)
    except ValidationError as exc:
        return [_detail(index, problem) for problem in errors.problems(exc)]
    if event.practice != practice:
        return [
            ErrorDetail(
                index=index,
                field="practice",
                message=f"event is for practice {event.practice} but was sent to "
                f"/v1/practices/{practice}/events; send each practice's events to its own URL",
            )
        ]
    events.append(event)
    return []


def _detail(index: int, problem: errors.Problem) -> ErrorDetail:
    message = problem.message
    if problem.kind == "extra_forbidden":
        message = "unknown field (canonical v1 events have no such field)"
    return ErrorDetail(index=index, field=problem.field, message=message)
