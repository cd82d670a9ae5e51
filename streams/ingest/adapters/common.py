"""What every vendor adapter shares: its output line, the practice check, ids and times.

Adapters are pure: text in, canonical v1 events out, no Kafka and no DuckDB. Each output
item carries the source line number so a rejected line can be found in the vendor file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from models.events import ODS_PATTERN, WITHHELD, WITHHELD_SYNONYMS, CallEvent
from streams.core import errors

_ODS = re.compile(ODS_PATTERN)
logger = logging.getLogger("callstream.adapters")


@dataclass(frozen=True)
class AdapterLine:
    """One result of an adapter: an event or the reason a source line was rejected."""

    line: int
    event: CallEvent | None = None
    error: str | None = None


#: What an adapter counts while reading: skipped lines by reason, adjustments made.
Tally = Counter[str]


def require_practice(practice: str | None, fmt: str) -> str:
    """Vendor files carry no ODS code, so the caller must name the practice."""
    if not practice:
        raise ValueError(f"--practice ODS is required for {fmt} files: they carry no ODS code")
    practice = practice.strip().upper()
    if not _ODS.match(practice):
        raise ValueError(f"--practice must be an ODS code like A12345, not {practice!r}")
    return practice


def source_digest(text: str) -> str:
    """A short stable digest of a source line: re-reading the same file gives the same ids
    (of its bytes as written, also those that were not UTF-8)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def make_event_id(call_id: str, source: str, event_type: str) -> str:
    """Deterministic event id from the call, the source line's content and the event type."""
    return f"{call_id}:{source_digest(source)}:{event_type}"


def utc_from_epoch(seconds: float) -> datetime:
    """Unix seconds (Asterisk, FreeSWITCH) as an aware UTC time."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def caller_or_withheld(number: str | None) -> str:
    """The number as given, or ``withheld`` when the system shows none."""
    value = (number or "").strip().strip('"').strip()
    if not value or value.lower() in WITHHELD_SYNONYMS:
        return WITHHELD
    return value


def undecodable(text: str) -> bool:
    """Whether text holds bytes that were not UTF-8 (lines are decoded with surrogate escapes)."""
    return not text.isascii() and any("\udc80" <= char <= "\udcff" for char in text)


def free_text(text: str) -> str:
    """A free-text value (a caller's name) with bytes that were not UTF-8 replaced by U+FFFD:
    phone systems write names in whatever encoding the trunk sent."""
    if not undecodable(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def not_utf8(field: str) -> str:
    """The reason for a line with bytes that are not UTF-8 in a field that must be text."""
    return f"{field} is not UTF-8 text (bytes in another encoding)"


def build_event(line: int, fields: dict[str, Any]) -> AdapterLine:
    """Validate one event; a failure becomes an error naming the field (never its value)."""
    try:
        return AdapterLine(line, event=CallEvent(**fields))
    except ValidationError as exc:
        return AdapterLine(line, error=errors.one_line(exc))


#: Counts a user should see without ``-v``: the file holds calls we do not read, damage,
#: or measures we could not take.
WARNINGS = ("skipped: unknown", "NUL padding", "wait and talk unknown")


def reported(items: Iterator[AdapterLine] | Iterator[Any], tally: Tally, fmt: str) -> Iterator[Any]:
    """Pass an adapter's output through, then log what it skipped or adjusted and why.

    ``WARNINGS`` are warnings; the rest (system lines, b-legs, corrected times) is routine
    and logged at info level (``callstream -v``).
    """
    yield from items
    for reason, count in sorted(tally.items()):
        level = logging.WARNING if reason.startswith(WARNINGS) else logging.INFO
        logger.log(level, "%s: %s: %d", fmt, reason, count)
