"""First hop of the pipeline: raw Kafka bytes -> validated, pseudonymised canonical v1 event.

Pure logic (no Kafka). Anything that is not a valid event becomes a ``Rejected`` with a
reason naming the field, for the dead-letter topic. Reasons never quote the input value:
it could be the caller's number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from models.events import CallEvent, PseudonymisedEvent, call_key
from streams.pseudonymise import pseudonymise

_NAMED_FIELD = re.compile(r"field '(\w+)'")


@dataclass(frozen=True)
class Rejected:
    """Why a message is not a usable event."""

    reason: str
    field: str | None


def validation_reason(exc: ValidationError) -> Rejected:
    """One line naming each bad field (without its value) from a pydantic error."""
    parts: list[str] = []
    first_field: str | None = None
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            return Rejected(f"not valid JSON: {msg}", None)
        field = loc or _field_in(msg)
        first_field = first_field or field
        parts.append(f"{loc}: {msg}" if loc else msg)
    return Rejected("; ".join(parts), first_field)


def _field_in(message: str) -> str | None:
    match = _NAMED_FIELD.search(message)
    return match.group(1) if match else None


def normalise(
    value: bytes | None, key: bytes | None, pseudonym_key: bytes
) -> PseudonymisedEvent | Rejected:
    """Validate one raw message and pseudonymise its caller, or say why it is rejected."""
    if not value:
        return Rejected("empty message: expected one canonical v1 event as JSON", None)
    try:
        event = CallEvent.model_validate_json(value)
    except ValidationError as exc:
        return validation_reason(exc)
    expected = call_key(event.practice, event.call_id).encode()
    if key != expected:
        return Rejected(
            "message key must be practice:call_id "
            f"({expected.decode()!r}) so all events of a call meet in one partition",
            "key",
        )
    return pseudonymise(event, pseudonym_key)
