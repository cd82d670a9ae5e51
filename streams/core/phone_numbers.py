"""Does a value look like a phone number from outside the practice? A team never is one.

Phone systems write what was dialled where an extension usually is (a CDR's ``dst``, a
transfer target, a FreeSWITCH destination), so a patient's number could pass for a team
name and reach the warehouse. Extensions are short; a UK number has 10 or 11 digits and
even a local number dialled without its area code has 6.
"""

from __future__ import annotations

import re

#: The team of an event whose team the phone system did not name, or named by a number.
UNKNOWN_TEAM = "unknown"
#: Fewest digits in a row that make a phone number (a local number without area code).
MIN_NUMBER_DIGITS = 6

_SPELLING = re.compile(r"[\s\-().]")
_NUMBER = re.compile(rf"\d{{{MIN_NUMBER_DIGITS},}}|^\+\d{{3,}}$")


def looks_like_phone_number(value: str | None) -> bool:
    """True when ``value`` is or holds a phone number: a run of 6 or more digits (spaces,
    dashes, dots and brackets between them ignored), or ``+`` and digits.

    Holds: ``07700 900123``, ``+44 7700 900123``, ``PJSIP/07700900123@trunk``,
    ``FMGL-07700900123#``. Not: ``201``, ``6001``, ``reception``, ``s``.
    """
    if not value:
        return False
    return _NUMBER.search(_SPELLING.sub("", value)) is not None


def team_or_unknown(value: str | None) -> str:
    """``value`` as a team name, or ``unknown`` when it is empty or a phone number."""
    name = (value or "").strip()
    if not name or looks_like_phone_number(name):
        return UNKNOWN_TEAM
    return name
