"""First hop of the pipeline: raw Kafka bytes -> validated, pseudonymised canonical v1 event.

Pure logic (no Kafka). Anything that is not a valid event becomes a ``Rejected`` with a
reason naming the field, for the dead-letter topic. Reasons never quote the input value:
it could be the caller's number.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from models.events import CallEvent, PseudonymisedEvent, call_key
from streams.core import errors
from streams.core.pseudonymise import pseudonymise
from streams.core.repeated_keys import repeated_fields, repeated_reason


@dataclass(frozen=True)
class Rejected:
    """Why a message is not a usable event."""

    reason: str
    field: str | None


#: Problems a reason names (30,000 unknown fields are one problem repeated).
MAX_PROBLEMS = 20


def validation_reason(exc: ValidationError) -> Rejected:
    """One line naming each bad field (without its value) from a pydantic error."""
    found = errors.problems(exc)
    for problem in found:
        if problem.kind == "json_invalid":
            return Rejected(f"not valid JSON: {problem.message}", None)
    first = next((p.field for p in found if p.field), None)
    shown = "; ".join(p.text() for p in found[:MAX_PROBLEMS])
    more = len(found) - MAX_PROBLEMS
    return Rejected(shown + (f"; and {more:,} more problems" if more > 0 else ""), first)


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
    repeated = repeated_fields(value, len(event.model_fields_set))
    if repeated:
        return Rejected(repeated_reason(repeated), repeated[0])
    expected = call_key(event.practice, event.call_id).encode()
    if key != expected:
        return Rejected(
            "message key must be practice:call_id "
            f"({expected.decode()!r}) so all events of a call meet in one partition",
            "key",
        )
    return pseudonymise(event, pseudonym_key)
