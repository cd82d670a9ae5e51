"""Caller pseudonyms: keyed HMAC-SHA256 over the practice and the E.164 number.

The same number at one practice always gets the same key (repeat callers stay visible);
at another practice it gets another key (no linking across practices). Without the key
the pseudonym cannot be reversed by trying numbers. A number typed into a free-text field
(``FREE_TEXT``) is masked here too, with the same key (``streams.core.redact``): the first
hop is the last place it may be seen.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

import phonenumbers

from models.events import WITHHELD, CallEvent, PseudonymisedEvent
from streams.core.phone_numbers import looks_like_phone_number, team_or_unknown
from streams.core.redact import mask_phone_numbers

log = logging.getLogger(__name__)

DEV_KEY_FILE = "pseudonymisation.dev.key"
#: Event fields a phone system fills with its own text: numbers in them are masked.
FREE_TEXT = ("call_id", "event_id", "option", "queue", "team", "agent")
_SPELLING = re.compile(r"[\s\-().]")
#: 0 or +44, then a 10-digit national number that GB's numbering plan allows.
_UK_NUMBER = re.compile(r"^(?:0|\+44)([1-357-9]\d{9})$")


def normalise_number(raw: str, region: str = "GB") -> str:
    """The number in E.164 (``07700 900123`` -> ``+447700900123``).

    A string phonenumbers cannot parse keeps its digits (and a leading +), so two spellings
    of one odd number still meet.
    """
    if region == "GB":
        # Fast path for the everyday spellings of a UK number (a tenth of the cost of
        # phonenumbers.parse, and the same answer: tests/test_pseudonymise.py compares them).
        match = _UK_NUMBER.match(_SPELLING.sub("", raw))
        if match:
            return "+44" + match.group(1)
    try:
        parsed = phonenumbers.parse(raw, region)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"[^\d]", "", raw)
        return ("+" if raw.strip().startswith("+") else "") + digits


def caller_key(key: bytes, practice: str, raw_number: str | None) -> str | None:
    """The pseudonym of a caller at a practice; None when the number is withheld or absent."""
    if raw_number is None or raw_number == WITHHELD or not raw_number.strip():
        return None
    message = f"{practice}|{normalise_number(raw_number)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def pseudonymise(event: CallEvent, key: bytes) -> PseudonymisedEvent:
    """The event as it may travel after the first hop: no raw number left in it (a team
    that looks like a phone number becomes ``unknown``, such an agent none)."""
    fields = dict(event.__dict__)  # the validated field values, without model_dump's work
    del fields["caller"]
    if fields["team"] is not None:
        fields["team"] = team_or_unknown(fields["team"])  # a number is never a team
    if looks_like_phone_number(fields["agent"]):
        fields["agent"] = None  # nor a person who answered: who it was is not known
    for name in FREE_TEXT:
        value = fields[name]
        if value:
            fields[name] = mask_phone_numbers(value, key)[0]
    # Not validated a second time (a tenth of the worker's per-event cost): the values come
    # from a valid CallEvent, and a mask or "unknown" keeps every PseudonymisedEvent limit
    # (a mask is 16 letters for 9+ digits, inside the wider limits; no new edge whitespace).
    # tests/test_pseudonymise.py checks the result equals a validated one.
    return PseudonymisedEvent.model_construct(
        **fields,
        caller_key=caller_key(key, event.practice, event.caller),
        caller_withheld=event.caller == WITHHELD,
    )


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """The HMAC key: the configured one, else a development key kept under the data dir."""
    if configured:
        return configured.encode()
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 (not chmod-ed after): no moment when another user could read it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it just now
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    log.warning(
        "CALLSTREAM_PSEUDONYMISATION_KEY is not set: using the development key in %s. "
        "Set a managed key in production, or pseudonyms will differ between machines.",
        path,
    )
    return path.read_text().strip().encode()
