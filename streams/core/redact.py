"""The one rule for what looks like a phone number in free text, and how it is masked.

Pure logic. Used wherever text supplied by a phone system or a client can travel past the
first hop: the free-text fields of an event (``call_id``, ``event_id``, ``team``,
``queue``, ``option``), dead letters (values, field names, message keys, reasons), error
messages and HTTP error bodies, and every log record of a callstream process
(``mask_log_records``).

What is masked: a run of 9 or more digits (any Unicode decimal digits, so full-width
``０７７００`` too), optionally after a ``+``, where the digits may be separated by up to four
``SEPARATORS`` (spaces, ``-`` ``/`` ``\\`` ``_`` ``|`` ``.``, brackets, Unicode dashes and
the full-width forms). UK numbers have 10 or 11 digits, international ones at most 15; 9
catches a number with a digit dropped. The whole run is replaced.

What is kept: anything with fewer than 9 digits in such a run (ODS codes, extensions like
``201``, dates and RFC 3339 times, which a ``T`` splits), and identifiers whose digit runs
are not numbers: UUIDs, hex tokens of 16 or more characters holding a letter (hashes,
pseudonyms) and Asterisk call ids (``1754208000.42``: Unix seconds, a dot, a sequence).
Not masked either: digits split by letters or by ``,`` ``:`` ``;``, or more than four
separators apart, and a number hidden inside a hex hash. A digit group glued to the word
before it (``A81001-``) is an identifier's and kept, unless it starts with 0 and too few
digits follow it to be a number (``Mob07700 900123`` is masked whole); a number written
without its leading 0 and glued to a word (``Tel7700 900123``) is not masked.

With a key the replacement is ``tel-`` and 12 letters, a keyed hash of the exact run: the
same text always gives the same mask and different texts different masks, so two call ids
that differ only in a number stay two calls. Without a key it is ``MASK``. Neither contains
a digit, so masking twice changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import traceback
from typing import Any
from urllib.parse import unquote

MASK = "<digits masked>"
KEYED_PREFIX = "tel-"
MIN_DIGITS = 9

#: What people put between the digits of a phone number (a regex character class body):
#: whitespace, - / \ _ | . and brackets, the Unicode dashes and middle dot, the full-width
#: forms, and a byte that was not UTF-8 (kept as a surrogate escape: a Windows-1252
#: no-break space between digit groups). Not , : ; which separate list items and times.
SEPARATORS = (
    r"\s\-/\\_|.()\[\]" + "\u2010-\u2015\u2212\u00b7" + "－／＼＿｜．（）［］" + "\udc80-\udcff"
)
_SEP = f"[{SEPARATORS}]{{0,4}}"
#: A digit, then digits each after at most four separators; "+" (or full-width "＋") first.
_RUN = re.compile(rf"[+\uff0b]?\d(?:{_SEP}\d)*")
#: Cheap test: is there any run with MIN_DIGITS digits at all?
_LONG_RUN = re.compile(rf"\d(?:{_SEP}\d){{{MIN_DIGITS - 1}}}")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: Identifiers, not numbers: UUIDs, hex tokens with a letter (hashes), Asterisk's uniqueid
#: (Unix seconds, 10 digits from 1 - no UK number starts so - a dot, a sequence), and an IPv4
#: address with its port (four octets of 0-255 without leading zeros, then ``:port``: an
#: operator must see which broker failed; a number spelt with dots has no port after it).
_PROTECTED = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9]*[a-fA-F])[0-9a-fA-F]{16,}"
    r")(?![0-9A-Za-z])"
    r"|(?<![\d+])(?<!\d[\s\-/_|.()])1\d{9}\.\d{1,6}(?![\d.])"
    rf"|(?<![\d.+]){_OCTET}(?:\.{_OCTET}){{3}}:\d{{1,5}}(?![\d.])"
)
#: The digits of a run up to its first separator, and that separator.
_FIRST_GROUP = re.compile(rf"\d+[{SEPARATORS}]{{1,4}}")
#: A date heading a run (``20260803-00001``, ``2026-08-03-00001``): no UK number starts so.
_DATE_HEAD = re.compile(
    rf"(?:19|20)\d\d(-?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])[{SEPARATORS}]{{1,4}}"
)
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def mask_phone_numbers(text: str, key: bytes | None = None) -> tuple[str, int]:
    """``text`` with everything that looks like a phone number masked, and how many were."""
    if not _LONG_RUN.search(text):
        return text, 0
    pieces: list[str] = []
    count = 0
    start = 0
    for protected in _PROTECTED.finditer(text):
        masked, n = _mask_runs(text[start : protected.start()], key)
        pieces += [masked, protected.group()]
        count += n
        start = protected.end()
    masked, n = _mask_runs(text[start:], key)
    pieces.append(masked)
    return "".join(pieces), count + n


def masked(text: str, key: bytes | None = None) -> str:
    """``mask_phone_numbers`` without the count."""
    return mask_phone_numbers(text, key)[0]


def masked_json(value: Any) -> Any:
    """A JSON-ready value with every string in it, keys included, ``masked``."""
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {masked(str(k)): masked_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_json(item) for item in value]
    return value


def _mask_runs(text: str, key: bytes | None) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        run = match.group()
        kept = ""
        # Groups heading the run that belong to an identifier are not part of a number:
        # one glued to the word before it ("A81001-07700900123"), or a date. A glued group
        # that starts with 0 is a number's own when what follows it is too short to be one
        # ("Mob07700 900123", "x0161 496 0207"): the whole run is masked then.
        glued = match.start() > 0 and text[match.start() - 1].isalnum()
        while head := (glued and _FIRST_GROUP.match(run)) or _DATE_HEAD.match(run):
            if glued and run[0] == "0" and _digits(run[head.end() :]) < MIN_DIGITS:
                break
            kept, run, glued = kept + head.group(), run[head.end() :], False
        if _digits(run) < MIN_DIGITS:
            return match.group()
        count += 1
        if key is None:
            return kept + MASK
        digest = hmac.new(key, run.encode(), hashlib.sha256).hexdigest()[:12]
        return kept + KEYED_PREFIX + digest.translate(_LETTERS)

    return _RUN.sub(replace, text), count


def _digits(text: str) -> int:
    return sum(ch.isdecimal() for ch in text)


#: Secrets no log line may show (``hide_in_logs``): the alert URLs and their credentials.
_SECRETS: set[str] = set()
#: Shortest credential hidden on its own (a shorter one would hide letters of every line).
SECRET_PIECE_CHARS = 4
#: Shortest token-like piece of a URL hidden on its own: six characters or more, not a plain
#: lower-case word or host name (``services``, ``hooks.slack.com`` and port ``8443`` stay).
_TOKEN_PIECE = re.compile(r"(?![a-z.\-]+$)\S{6,}")


def hide_in_logs(secret: str) -> None:
    """No log record of this process will show ``secret``, its user and password, or a
    token-like piece of it (``TOKENA_SECRET``, a webhook's ``B07AB3XYZ``): a library may log
    the URL it was given, or a part of it, when it cannot use it (apprise does). Plain words
    (``services``, ``callstream``), host names and ports stay readable in every log line.
    Needs ``mask_log_records``."""
    found = {secret}
    netloc = re.split(r"[/?#]", secret.partition("://")[2], maxsplit=1)[0]
    user, _, password = netloc.rpartition("@")[0].partition(":")
    found.add(password)
    found.update(
        piece
        for piece in (user, *re.split(r"[\s,/:@?&=#;]+", secret))
        if _TOKEN_PIECE.fullmatch(piece)
    )
    found |= {unquote(piece) for piece in found}
    _SECRETS.update(piece for piece in found if len(piece) >= SECRET_PIECE_CHARS)


def _unsecret(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "<secret>")
    return text


def mask_log_records() -> None:
    """From now on every log record of this process is masked: message, arguments and
    traceback (a library may log a value it was given), phone numbers and the secrets given
    to ``hide_in_logs``. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_phone_numbers", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports that itself
            return record
        record.msg, record.args = masked(_unsecret(message)), ()
        if record.exc_info and not record.exc_text:
            lines = traceback.format_exception(*record.exc_info)
            record.exc_text = masked(_unsecret("".join(lines).rstrip("\n")))
        return record

    factory.masks_phone_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
