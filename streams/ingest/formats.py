"""Input formats of ``callstream classify`` and ``callstream push``: file -> canonical events.

``FORMATS`` maps a ``--format`` name to a reader taking (text lines, practice, rules) and
yielding one ``ParsedLine`` (or an adapter's ``AdapterLine``, same fields) per event or
rejected line. Files are read line by line, each line decoded on its own (``decode_lines``):
memory does not grow with the file, and a byte in another encoding costs at most its line.
Error strings name the field and never quote the input (it may hold a caller's number).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from pydantic import ValidationError

from models.events import ODS_PATTERN, CallEvent
from streams.core import errors
from streams.core.redact import masked
from streams.core.repeated_keys import repeated_fields, repeated_reason
from streams.core.rules import Rules, load_rules
from streams.ingest.adapters.common import Tally, reported, undecodable

_ODS = re.compile(ODS_PATTERN)


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One source line's result: the event, or why the line was rejected."""

    line: int
    event: CallEvent | None = None
    error: str | None = None


class LineResult(Protocol):
    """What a reader yields (``ParsedLine`` or an adapter's ``AdapterLine``)."""

    @property
    def line(self) -> int: ...
    @property
    def event(self) -> CallEvent | None: ...
    @property
    def error(self) -> str | None: ...


Reader = Callable[[Iterable[str], str | None, Rules], Iterator[LineResult]]

#: ``--format`` name -> reader. Register more with ``register_format``.
FORMATS: dict[str, Reader] = {}


def register_format(name: str) -> Callable[[Reader], Reader]:
    """Decorator adding a reader to ``FORMATS`` under ``name``."""

    def add(reader: Reader) -> Reader:
        FORMATS[name] = reader
        return reader

    return add


def check_practice(practice: str | None) -> str | None:
    """``--practice`` upper-cased, or ValueError when it is not an ODS code."""
    if practice is None:
        return None
    code = practice.strip().upper()
    if not _ODS.match(code):
        raise ValueError(f"--practice must be an ODS code like A12345, not {practice!r}")
    return code


def parse_jsonl_line(number: int, text: str, practice: str | None) -> ParsedLine:
    """One canonical event from one JSON line; ``practice`` fills a missing practice."""
    if practice is None:
        try:
            event = CallEvent.model_validate_json(text)
        except ValidationError as exc:
            if exc.errors()[0]["type"] not in ("json_invalid", "model_type"):
                return ParsedLine(number, error=errors.one_line(exc, quoted=True))
        else:
            return _once_each(number, text, event, len(event.model_fields_set))
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParsedLine(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
    except (ValueError, RecursionError):  # a number of thousands of digits, nesting too deep
        return ParsedLine(number, error="not JSON an event can be (a huge number, or too deep)")
    if not isinstance(raw, dict):
        return ParsedLine(number, error="not a JSON object (one event per line)")
    distinct = len(raw)
    if practice is not None:
        given = raw.get("practice")
        if given in (None, ""):
            raw["practice"] = practice
        elif not isinstance(given, str) or given.strip().upper() != practice:
            return ParsedLine(number, error=f"field 'practice': differs from --practice {practice}")
    try:
        return _once_each(number, text, CallEvent.model_validate(raw), distinct)
    except ValidationError as exc:
        return ParsedLine(number, error=errors.one_line(exc, quoted=True))


def _once_each(number: int, text: str, event: CallEvent, distinct: int) -> ParsedLine:
    """``event``, unless its line gives one of its ``distinct`` fields more than once."""
    repeated = repeated_fields(text, distinct)
    return (
        ParsedLine(number, error=repeated_reason(repeated))
        if repeated
        else ParsedLine(number, event=event)
    )


@register_format("jsonl")
def read_jsonl(lines: Iterable[str], practice: str | None, rules: Rules) -> Iterator[ParsedLine]:
    """Canonical v1 events, one JSON object per line; blank lines are skipped."""
    practice = check_practice(practice)
    for number, text in enumerate(lines, start=1):
        if undecodable(text):
            yield ParsedLine(number, error="not UTF-8 text (save the file as UTF-8)")
        elif text.strip():
            yield parse_jsonl_line(number, text, practice)


@register_format("csv")
def _read_csv(lines: Iterable[str], practice: str | None, rules: Rules) -> Iterator[LineResult]:
    from streams.ingest.adapters.canonical_csv import FORMAT, read_canonical_csv

    tally = Tally()
    return reported(read_canonical_csv(lines, practice, tally=tally), tally, FORMAT)


@register_format("asterisk-queue-log")
def _read_queue_log(
    lines: Iterable[str], practice: str | None, rules: Rules
) -> Iterator[LineResult]:
    from streams.ingest.adapters.asterisk_queue_log import FORMAT, read_queue_log

    tally = Tally()
    keys = rules.phone_system.queue_log_callback_keys
    return reported(
        read_queue_log(lines, practice, rules, tally=tally, callback_keys=keys), tally, FORMAT
    )


@register_format("asterisk-cdr")
def _read_asterisk_cdr(
    lines: Iterable[str], practice: str | None, rules: Rules
) -> Iterator[LineResult]:
    from streams.ingest.adapters.asterisk_cdr import FORMAT, read_asterisk_cdr
    from streams.settings import get_settings

    tally, zone = Tally(), get_settings().cdr_timezone
    cdr = read_asterisk_cdr(lines, practice, rules, timezone=zone, tally=tally)
    return reported(cdr, tally, FORMAT)


@register_format("freeswitch-json")
def _read_freeswitch(
    lines: Iterable[str], practice: str | None, rules: Rules
) -> Iterator[LineResult]:
    from streams.ingest.adapters.freeswitch_json import FORMAT, read_freeswitch_json

    tally = Tally()
    return reported(read_freeswitch_json(lines, practice, rules, tally=tally), tally, FORMAT)


@contextmanager
def open_lines(source: Path | str | IO[str]) -> Iterator[Iterable[bytes] | Iterable[str]]:
    """The lines of a file path, ``-`` (stdin) or an open text stream, undecoded."""
    if not isinstance(source, str | Path):
        yield source
    elif str(source) == "-":
        yield sys.stdin.buffer
    else:
        try:
            handle = open(source, "rb")  # noqa: SIM115
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc.strerror}") from exc
        with handle:
            yield handle


#: Longest line read: a FreeSWITCH CDR of one call, its every variable on one line, is tens
#: of kilobytes; a longer line is no call record, and reading it whole could take gigabytes.
MAX_LINE_BYTES = 8 * 1024 * 1024


def bounded_lines(lines: Iterable[bytes] | Iterable[str]) -> Iterator[bytes | str]:
    """The lines of an open file, each read at most ``MAX_LINE_BYTES`` at a time; a longer
    one stops the read with a ``ValueError`` naming it (the lines before it were read)."""
    readline = getattr(lines, "readline", None)
    if readline is None:
        yield from lines
        return
    number = 0
    while line := readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(
                f"line {number} is longer than {MAX_LINE_BYTES:,} bytes: not a file "
                "of call records (the lines before it were read)"
            )
        yield line


#: What decoding counts: NUL padding (a crash leaves a block of NUL bytes in a log file).
NUL_BYTES = "NUL padding stripped (bytes)"
NUL_LINES = "NUL padding stripped (lines)"


def decode_lines(lines: Iterable[bytes] | Iterable[str], tally: Tally) -> Iterator[str]:
    """Each line decoded on its own, as UTF-8, its NUL bytes stripped and counted.

    Bytes that are not UTF-8 are kept as surrogate escapes (``undecodable``): each reader
    replaces them in a free-text column (a caller's name) and rejects just that line when
    they are anywhere else. A byte-order mark on the first line is dropped.
    """
    for number, raw in enumerate(bounded_lines(lines), start=1):
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        if number == 1:
            text = text.removeprefix("\ufeff")
        if "\x00" in text:
            tally[NUL_BYTES] += text.count("\x00")
            tally[NUL_LINES] += 1
            text = text.replace("\x00", "")
        yield text


def read_events(
    source: Path | str | IO[str],
    fmt: str = "jsonl",
    practice: str | None = None,
    rules: Rules | None = None,
) -> Iterator[LineResult]:
    """Every event or rejected line of a file, in file order, streamed.

    ``source`` is a path, ``-`` (stdin) or a text stream. Lines are decoded one by one
    (``decode_lines``), so one line with bytes that are not UTF-8 costs that line at most.
    Raises ``ValueError`` for an unknown format or an unusable file or ``--practice``
    (nothing could be read). An error that looks like it holds a phone number is masked
    here, the one door every reader's output passes through.
    """
    reader = FORMATS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(sorted(FORMATS))}")
    if rules is None:
        from streams.settings import get_settings

        rules = load_rules(get_settings().rules_file)
    tally = Tally()
    with open_lines(source) as lines:
        for item in reported(reader(decode_lines(lines, tally), practice, rules), tally, fmt):
            if item.error is not None and (safe := masked(item.error)) != item.error:
                item = ParsedLine(item.line, error=safe)  # no reader quotes input; if one did
            yield item
