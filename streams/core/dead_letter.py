"""Dead letters: input the pipeline could not use, kept with the reason and where it came from.

Pure logic (no Kafka). A dead letter is on a topic after the first, so it must not carry a
raw caller number (design.md, privacy): a JSON ``caller`` value is replaced by its pseudonym,
and runs of 9 or more digits anywhere a number could hide (unparseable bytes, unknown
fields, the message key) are masked. The record says what was redacted, so an operator
knows the original differs from what the phone system sent.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from streams.core.pseudonymise import caller_key

#: Fields of canonical v1 that hold identifiers or codes, never a caller's number.
SAFE_FIELDS = frozenset(
    {
        "practice",
        "call_id",
        "event_id",
        "type",
        "at",
        "direction",
        "option",
        "request_type",
        "target",
        "queue",
        "team",
        "role",
        "outcome",
    }
)
#: 9+ digits, optionally separated by spaces, dashes, dots or brackets: UK numbers have 10-11.
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:[\s().-]*\d){8,}")
MASK = "<digits masked>"


class DeadLetter(BaseModel):
    """One record of the dead-letter topic (JSON)."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    field: str | None = None
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None = None
    original: str
    original_encoding: Literal["utf-8", "base64"] = "utf-8"
    redactions: list[str] = []
    dead_at: datetime

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def mask_digit_runs(text: str) -> tuple[str, int]:
    """``text`` with every run of 9+ digits masked, and how many were."""
    return _DIGIT_RUN.subn(MASK, text)


def _mask_value(value: Any) -> tuple[Any, int]:
    if isinstance(value, bool) or value is None:
        return value, 0
    if isinstance(value, int | float):
        masked, n = mask_digit_runs(str(value))
        return (masked if n else value), n
    if isinstance(value, str):
        return mask_digit_runs(value)
    if isinstance(value, list):
        pairs = [_mask_value(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        pairs = {k: _mask_value(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return value, 0


def redact(raw: bytes, key: bytes) -> tuple[str, Literal["utf-8", "base64"], list[str]]:
    """The original bytes made safe to keep: (text, encoding, what was redacted)."""
    try:
        text = raw.decode("utf-8")
        encoding: Literal["utf-8", "base64"] = "utf-8"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        encoding = "base64"
    notes: list[str] = []
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        obj = _redact_object(obj, key, notes)
        text = json.dumps(obj, ensure_ascii=False)
    else:
        text, n = mask_digit_runs(text)
        if n:
            notes.append(f"{n} run(s) of 9+ digits masked (not a JSON object)")
    if encoding == "base64":
        text = base64.b64encode(text.encode("latin-1")).decode("ascii")
        notes.append("not UTF-8: original bytes base64-encoded")
    return text, encoding, notes


def _redact_object(obj: dict[str, Any], key: bytes, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    masked = 0
    for name, value in obj.items():
        if name == "caller":
            out[name] = _pseudonymise_caller(value, obj.get("practice"), key)
            if out[name] != value:
                notes.append("caller replaced by its pseudonym")
        elif name in SAFE_FIELDS and isinstance(value, str):
            out[name] = value
        else:
            out[name], n = _mask_value(value)
            masked += n
    if masked:
        notes.append(f"{masked} run(s) of 9+ digits masked outside the known fields")
    return out


def _pseudonymise_caller(value: Any, practice: Any, key: bytes) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        return "<redacted: caller was not a string>"
    pseudonym = caller_key(key, practice if isinstance(practice, str) else "", value)
    return value if pseudonym is None else f"pseudonym:{pseudonym}"


def make_dead_letter(
    raw: bytes,
    reason: str,
    field: str | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    message_key: bytes | None,
    pseudonym_key: bytes,
) -> DeadLetter:
    """A dead letter for one Kafka message, redacted for the privacy rule."""
    original, encoding, notes = redact(raw, pseudonym_key)
    shown_key = None
    if message_key is not None:
        shown_key, n = mask_digit_runs(message_key.decode("utf-8", "replace"))
        if n:
            notes.append("digits masked in the message key")
    return DeadLetter(
        reason=reason,
        field=field,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key=shown_key,
        original=original,
        original_encoding=encoding,
        redactions=notes,
        dead_at=datetime.now(UTC),
    )
