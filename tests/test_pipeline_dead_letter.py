"""Dead letters keep bad input with its reason but never a raw caller number."""

from __future__ import annotations

import base64
import json

from streams.core.dead_letter import MASK, make_dead_letter, mask_digit_runs, redact
from streams.core.pseudonymise import caller_key

KEY = b"test-key"


def test_json_caller_is_replaced_by_its_pseudonym() -> None:
    raw = json.dumps(
        {"practice": "A12345", "call_id": "c1", "type": "call_started", "caller": "07700 900123"}
    ).encode()
    text, encoding, notes = redact(raw, KEY)
    record = json.loads(text)
    assert encoding == "utf-8"
    assert "07700" not in text
    assert record["caller"] == "pseudonym:" + caller_key(KEY, "A12345", "07700 900123")
    assert record["call_id"] == "c1"
    assert notes == ["caller replaced by its pseudonym"]


def test_withheld_caller_is_kept_as_is() -> None:
    text, _, notes = redact(b'{"practice": "A12345", "caller": "withheld"}', KEY)
    assert json.loads(text)["caller"] == "withheld"
    assert notes == []


def test_numbers_in_unknown_fields_and_non_string_callers_are_masked() -> None:
    raw = b'{"practice": "A12345", "caller": 447700900123, "phone": "+44 (0)20 7946 0000"}'
    text, _, notes = redact(raw, KEY)
    record = json.loads(text)
    assert record["caller"] == "<redacted: caller was not a string>"
    assert record["phone"] == MASK
    assert "7946" not in text
    assert any("masked" in n for n in notes)


def test_unparseable_bytes_have_digit_runs_masked_but_times_kept() -> None:
    raw = b"practice=A12345 caller=07700900123 at=2026-08-03T07:30:00Z {"
    text, _, notes = redact(raw, KEY)
    assert "07700900123" not in text
    assert "2026-08-03T07:30:00Z" in text
    assert notes == ["1 run(s) of 9+ digits masked (not a JSON object)"]


def test_non_utf8_bytes_are_base64_and_masked() -> None:
    raw = b"\xff\xfe caller 07700900123"
    text, encoding, notes = redact(raw, KEY)
    assert encoding == "base64"
    assert b"07700900123" not in base64.b64decode(text)
    assert "not UTF-8: original bytes base64-encoded" in notes


def test_short_digit_runs_are_not_masked() -> None:
    text = "option 3, queue 12, 2026-08-03"
    assert mask_digit_runs(text) == (text, 0)
    assert mask_digit_runs("call 0161 496 0000 now")[1] == 1


def test_record_names_reason_field_and_source() -> None:
    letter = make_dead_letter(
        b'{"practice": "A12345", "caller": "07700900123"}',
        "call_id: Field required",
        "call_id",
        topic="raw",
        partition=2,
        offset=41,
        message_key=b"A12345:07700900123",
        pseudonym_key=KEY,
    )
    record = json.loads(letter.to_bytes())
    assert record["reason"] == "call_id: Field required"
    assert record["field"] == "call_id"
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == (
        "raw",
        2,
        41,
    )
    assert record["source_key"] == "A12345:" + MASK
    assert "07700900123" not in letter.to_bytes().decode()
    assert "digits masked in the message key" in record["redactions"]
