"""Caller pseudonyms: one caller per number however spelt, per practice, none when withheld."""

from __future__ import annotations

import logging
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.events import CallEvent, PseudonymisedEvent
from streams.core.pseudonymise import (
    DEV_KEY_FILE,
    caller_key,
    load_key,
    normalise_number,
    pseudonymise,
)

KEY = b"k1"


@pytest.mark.parametrize(
    "spelling",
    ["07700 900123", "07700900123", "+44 7700 900123", "+447700900123", "(07700) 900-123"],
)
def test_spellings_of_one_number_are_one_caller(spelling: str) -> None:
    assert normalise_number(spelling) == "+447700900123"
    assert caller_key(KEY, "A12345", spelling) == caller_key(KEY, "A12345", "07700900123")


def test_another_practice_or_key_gives_another_pseudonym() -> None:
    base = caller_key(KEY, "A12345", "07700900123")
    assert base is not None and len(base) == 32
    assert caller_key(KEY, "B12345", "07700900123") != base
    assert caller_key(b"k2", "A12345", "07700900123") != base
    assert caller_key(KEY, "A12345", "07700900124") != base


@pytest.mark.parametrize(
    "withheld", ["withheld", "Anonymous", "PRIVATE", "restricted", "unavailable", "unknown"]
)
def test_withheld_numbers_have_no_key(withheld: str) -> None:
    event = CallEvent(
        practice="A12345",
        call_id="c",
        event_id="e",
        type="call_started",
        at="2026-08-03T07:30:00Z",
        caller=withheld,
    )
    safe = pseudonymise(event, KEY)
    assert safe.caller_key is None and safe.caller_withheld is True


def test_the_raw_number_does_not_survive_pseudonymisation() -> None:
    event = CallEvent(
        practice="A12345",
        call_id="c",
        event_id="e",
        type="call_started",
        at="2026-08-03T07:30:00Z",
        caller="07700 900123",
    )
    safe = pseudonymise(event, KEY)
    dumped = safe.model_dump_json()
    assert "900123" not in dumped and 'caller"' not in dumped
    assert safe.caller_key == caller_key(KEY, "A12345", "+447700900123")
    assert safe.caller_withheld is False


def test_dev_key_created_once_with_a_warning(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.core.pseudonymise"):
        first = load_key(None, tmp_path)
        second = load_key(None, tmp_path)
    assert first == second and len(first) == 64
    assert (tmp_path / DEV_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert "CALLSTREAM_PSEUDONYMISATION_KEY is not set" in caplog.text
    assert load_key("managed", tmp_path) == b"managed"


def _phonenumbers_e164(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_SEPARATORS = st.sampled_from(["", " ", "-", "."])


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["0", "+44", "+44 ", "+44 (0)", "00 44 ", "44"]),
    st.text("0123456789", min_size=8, max_size=12),
    _SEPARATORS,
    st.integers(0, 8),
)
def test_fast_path_gives_what_phonenumbers_gives(
    prefix: str, digits: str, sep: str, cut: int
) -> None:
    raw = prefix + digits[:cut] + sep + digits[cut:]
    expected = _phonenumbers_e164(raw)
    if expected is not None:
        assert normalise_number(raw) == expected


def test_pseudonymised_event_equals_a_validated_one() -> None:
    event = CallEvent(
        practice="A12345",
        call_id="c",
        event_id="e",
        type="answered",
        at="2026-08-03T08:30:00+01:00",
        team="reception",
        role="gp",
    )
    safe = pseudonymise(event, KEY)
    validated = PseudonymisedEvent.model_validate_json(safe.model_dump_json())
    assert validated == safe and validated.model_dump() == safe.model_dump()
    assert safe.at.utcoffset().total_seconds() == 3600 and safe.schema_version == 1


@pytest.mark.parametrize(
    "fields",
    [
        # Nine digits and a letter: the most a mask can lengthen a field (10 -> 17 characters).
        {"type": "call_started", "caller": "07700 900123", "call_id": "770090012a" * 20},
        {"type": "ivr_option", "option": "770090012a" * 5, "request_type": "admin"},
        {"type": "queue_joined", "queue": "770090012a" * 20, "event_id": "1" * 200},
        {"type": "answered", "team": "07700 900123", "agent": "07700900123"},
        {"type": "answered", "team": "reception", "agent": "1234/5678/9x" * 5 + "1234"},
        {"type": "call_started", "caller": "withheld", "direction": "outbound"},
    ],
)
def test_an_unvalidated_pseudonymised_event_is_what_validation_would_give(fields: dict) -> None:
    """pseudonymise skips a second validation: masks at the longest inputs (digits masked in
    call ids, options and queues of the maximum length) still fit, and nothing differs."""
    event = CallEvent(
        **{"practice": "A12345", "call_id": "c", "event_id": "e", "at": "2026-08-03T08:30:00Z"}
        | fields
    )
    safe = pseudonymise(event, KEY)
    validated = PseudonymisedEvent.model_validate(safe.model_dump())
    assert validated == safe and validated.model_dump_json() == safe.model_dump_json()


def test_a_team_that_is_a_phone_number_leaves_the_first_hop_as_unknown() -> None:
    def answered(team: str) -> CallEvent:
        fields = {"practice": "A12345", "call_id": "c", "event_id": "e", "type": "answered"}
        return CallEvent(**fields, at="2026-08-03T08:30:00Z", team=team)  # no role: optional

    assert pseudonymise(answered("07700 900123"), KEY).team == "unknown"
    assert pseudonymise(answered("201"), KEY).team == "201"
    assert pseudonymise(answered("reception"), KEY).role is None


@pytest.mark.parametrize("agent", ["07700/900/407", "07700_900_408", "+44|7700|900|409"])
def test_an_agent_spelt_as_a_phone_number_leaves_the_first_hop_masked(agent: str) -> None:
    """Who answered is an extension or an id; a number in any spelling the masking rule
    knows goes no further than the raw topic (it reached the warehouse's first_agent)."""
    fields = {"practice": "A12345", "call_id": "c", "event_id": "e", "type": "answered"}
    event = CallEvent(**fields, at="2026-08-03T08:30:00Z", team="reception", agent=agent)
    safe = pseudonymise(event, KEY)
    assert safe.agent is None or not any(ch.isdigit() for ch in safe.agent)
    assert (
        pseudonymise(CallEvent(**fields | {"agent": "201"}, at=event.at, team="r"), KEY).agent
        == "201"
    )


def test_an_agent_with_control_characters_is_refused_naming_it() -> None:
    fields = {"practice": "A12345", "call_id": "c", "event_id": "e", "type": "answered"}
    with pytest.raises(ValidationError, match="agent"):
        CallEvent(**fields, at="2026-08-03T08:30:00Z", team="r", agent="ext\u202e102\x1b[31m")
