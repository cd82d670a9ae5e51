"""Dead letters: input the pipeline could not use, kept with the reason and where it came from.

Pure logic (no Kafka). A dead letter is on a topic after the first, so it must not carry a
raw caller number (design.md, privacy): a JSON ``caller`` value is replaced by its pseudonym,
and everything else that looks like a phone number (``streams.core.redact``) is masked in
every value, every field name, the message key and the reason, whatever the field, with
the keyed mask the first hop uses (so a masked ``call_id`` here matches the warehouse's).
The record says what was redacted, so an operator knows the original differs from what
the phone system sent.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from streams.core.pseudonymise import caller_key
from streams.core.redact import MASK, mask_phone_numbers

__all__ = ["MASK", "DeadLetter", "in_parts", "make_dead_letter", "redact"]


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
    #: Call events the record holds: 1 for a message, all of a call's for a call set aside.
    events: int = 1
    #: A dead letter larger than one Kafka message is written as ``parts`` records
    #: (``in_parts``): the same but for ``original``, of which each holds a piece, in order.
    part: int = 1
    parts: int = 1

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


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
        if not isinstance(obj, dict | list):
            raise ValueError("not an object or array")
        tally = _Tally()
        text = json.dumps(_clean(obj, key, tally), ensure_ascii=False)
        if tally.callers:
            notes.append("caller replaced by its pseudonym")
        if tally.masked:
            notes.append(f"{tally.masked} phone number(s) masked")
    except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
        text, n = mask_phone_numbers(text, key)
        if n:
            notes.append(f"{n} phone number(s) masked (not a JSON object)")
    if encoding == "base64":
        text = base64.b64encode(text.encode("latin-1")).decode("ascii")
        notes.append("not UTF-8: original bytes base64-encoded")
    return text, encoding, notes


@dataclass
class _Tally:
    callers: int = 0
    masked: int = 0


def _clean(value: Any, key: bytes, tally: _Tally, practice: Any = None) -> Any:
    """A JSON value with each ``caller`` pseudonymised and every number masked, keys too."""
    if isinstance(value, dict):
        practice = value.get("practice", practice)
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name == "caller":
                out[name] = _pseudonymise_caller(item, practice, key)
                tally.callers += out[name] != item
                continue
            shown, n = mask_phone_numbers(name, key)
            tally.masked += n
            out[shown] = _clean(item, key, tally, practice)
        return out
    if isinstance(value, list):
        return [_clean(item, key, tally, practice) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    text, n = mask_phone_numbers(str(value), key)
    tally.masked += n
    return text if n or isinstance(value, str) else value


def _pseudonymise_caller(value: Any, practice: Any, key: bytes) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        return "<redacted: caller was not a string>"
    pseudonym = caller_key(key, practice if isinstance(practice, str) else "", value)
    return value if pseudonym is None else f"pseudonym:{pseudonym}"


#: The longest reason, field and message key a dead letter keeps (characters): they are
#: made from what was sent (30,000 unknown fields made a 1 MB reason), and the letter must
#: fit one Kafka message beside the original it keeps whole.
MAX_REASON = 4000
MAX_FIELD = 200
MAX_KEY = 1000


def _cut(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    return f"{text[:most]}… (cut at {most:,} of {len(text):,} characters)"


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
    events: int = 1,
) -> DeadLetter:
    """A dead letter for one Kafka message, redacted for the privacy rule."""
    original, encoding, notes = redact(raw, pseudonym_key)
    shown_key = None
    if message_key is not None:
        shown_key, n = mask_phone_numbers(message_key.decode("utf-8", "replace"), pseudonym_key)
        if n:
            notes.append("phone number(s) masked in the message key")
        if len(shown_key) > MAX_KEY:
            notes.append(f"message key cut to its first {MAX_KEY:,} characters")
            shown_key = shown_key[:MAX_KEY]
    return DeadLetter(
        reason=_cut(mask_phone_numbers(reason)[0], MAX_REASON),
        field=_cut(mask_phone_numbers(field)[0], MAX_FIELD) if field is not None else None,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key=shown_key,
        original=original,
        original_encoding=encoding,
        redactions=notes,
        dead_at=datetime.now(UTC),
        events=events,
    )


def in_parts(letter: DeadLetter, max_bytes: int) -> list[DeadLetter]:
    """``letter`` as records of at most ``max_bytes`` each (``to_bytes``): itself when it
    fits, else its ``original`` cut into pieces (join them in ``part`` order to read it;
    base64 too is cut as text). Kafka refuses a larger message, and the letter must be kept.
    """
    if len(letter.to_bytes()) <= max_bytes:
        return [letter]
    text = letter.original
    bare = len(letter.model_copy(update={"original": ""}).to_bytes())
    room = max_bytes - bare - 32  # the part numbers' digits
    if room < 12:
        raise ValueError(f"a dead letter needs more than {max_bytes} bytes without its original")
    count = -(-(len(letter.to_bytes()) - bare) // room)
    while True:  # a piece's bytes depend on its characters: more pieces until each fits
        size = -(-len(text) // count)
        starts = range(0, len(text), size)
        cut = {"parts": len(starts)}
        pieces = [
            letter.model_copy(update={**cut, "original": text[at : at + size], "part": n})
            for n, at in enumerate(starts, start=1)
        ]
        if all(len(piece.to_bytes()) <= max_bytes for piece in pieces):
            return pieces
        count = len(starts) + max(1, len(starts) // 4)
