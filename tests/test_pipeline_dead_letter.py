"""Dead letters keep bad input with its reason but never a raw caller number."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest

from streams.core.dead_letter import in_parts, make_dead_letter, redact
from streams.core.normalise import Rejected, normalise
from streams.core.pseudonymise import caller_key
from streams.core.redact import mask_phone_numbers, masked
from streams.settings import Settings
from streams.worker.reject import DeadLetters

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
    assert record["phone"] == masked("+44 (0)20 7946 0000", KEY)
    assert record["phone"].startswith("tel-")
    assert "7946" not in text
    assert any("masked" in n for n in notes)


def test_unparseable_bytes_have_digit_runs_masked_but_times_kept() -> None:
    raw = b"practice=A12345 caller=07700900123 at=2026-08-03T07:30:00Z {"
    text, _, notes = redact(raw, KEY)
    assert "07700900123" not in text
    assert "2026-08-03T07:30:00Z" in text
    assert notes == ["1 phone number(s) masked (not a JSON object)"]


def test_non_utf8_bytes_are_base64_and_masked() -> None:
    raw = b"\xff\xfe caller 07700900123"
    text, encoding, notes = redact(raw, KEY)
    assert encoding == "base64"
    assert b"07700900123" not in base64.b64decode(text)
    assert "not UTF-8: original bytes base64-encoded" in notes


def test_short_digit_runs_are_not_masked() -> None:
    text = "option 3, queue 12, 2026-08-03"
    assert mask_phone_numbers(text) == (text, 0)
    assert mask_phone_numbers("call 0161 496 0000 now")[1] == 1


def test_numbers_in_every_field_and_field_name_are_masked() -> None:
    """Issue 11 case 4: the "safe" fields were kept word for word and keys never masked."""
    numbers = ["07700 900241", "07700/900/241", "07700_900_241", "07700|900|241"]
    raw = json.dumps(
        {
            "practice": "A12345",
            "call_id": f"c-{numbers[0]}",
            "event_id": numbers[1],
            "team": numbers[2],
            "queue": numbers[3],
            "at": "07700900241",
            "+447700900241": "x",
        }
    ).encode()
    text, _, notes = redact(raw, KEY)
    assert "900" not in text.replace("tel-", ""), text
    record = json.loads(text)
    assert record["practice"] == "A12345"
    assert record["call_id"] == "c-" + masked(numbers[0], KEY)
    assert notes == ["6 phone number(s) masked"]


def test_deeply_nested_json_is_kept_as_text_not_a_crash() -> None:
    raw = b"[" * 100_000 + b"07700900123" + b"]" * 100_000
    text, _, notes = redact(raw, KEY)
    assert "07700900123" not in text and len(text) > 200_000
    assert notes == ["1 phone number(s) masked (not a JSON object)"]


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
    assert record["source_key"] == "A12345:" + masked("07700900123", KEY)
    assert "07700900123" not in letter.to_bytes().decode()
    assert "phone number(s) masked in the message key" in record["redactions"]


def test_reason_and_field_are_masked() -> None:
    letter = make_dead_letter(
        b"{}",
        "+447700900241: Extra inputs are not permitted",
        "+447700900241",
        topic="raw",
        partition=0,
        offset=1,
        message_key=None,
        pseudonym_key=KEY,
    )
    assert "7700900241" not in letter.to_bytes().decode()
    assert letter.reason.endswith(": Extra inputs are not permitted")


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps([{"team": '"\\' * 150, "n": n} for n in range(1500)]).encode(),  # escapes
        ("😀" * 400_000).encode(),  # not JSON: four bytes a character
        bytes(range(128, 256)) * 9000,  # not UTF-8: base64
    ],
)
def test_a_letter_larger_than_a_kafka_message_is_kept_whole_in_parts(raw: bytes) -> None:
    letter = make_dead_letter(
        raw, "call could not be classified", None, topic="raw", partition=0, offset=7,
        message_key=b"A12345:c1", pseudonym_key=KEY, events=1500,
    )  # fmt: skip
    assert len(letter.to_bytes()) > 1_000_000
    pieces = in_parts(letter, 1_000_000)
    assert len(pieces) > 1
    assert all(len(piece.to_bytes()) <= 1_000_000 for piece in pieces)
    assert [(p.part, p.parts) for p in pieces] == [
        (n, len(pieces)) for n in range(1, len(pieces) + 1)
    ]
    assert "".join(p.original for p in pieces) == letter.original
    same = {"original", "part", "parts"}
    assert all(p.model_dump(exclude=same) == letter.model_dump(exclude=same) for p in pieces)
    assert in_parts(pieces[0], 1_000_000) == [pieces[0]]  # one that fits is itself


class _Topic:
    """Collects what is sent (the dead-letter topic's ``send``, without Kafka)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, key: bytes | None, value: bytes) -> None:
        self.sent.append(value)


def test_a_flood_of_dead_letters_is_logged_at_a_bounded_rate_and_all_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A phone system sending nothing but bad events wrote a WARNING for each: thousands a
    minute, burying every other line. Now a burst of 60, then one a second, and the next
    line says how many were not logged; the topic still gets every one."""
    now = [0.0]
    topic = _Topic()
    letters = DeadLetters(
        topic,  # type: ignore[arg-type]
        KEY,
        max_bytes=Settings().kafka_value_max_bytes,
        log_per_minute=60,
        clock=lambda: now[0],
    )
    why = Rejected("field 'at': not a time", "at")

    async def send(count: int) -> None:
        for n in range(count):
            await letters.send(b"{}", why, topic="raw", partition=0, offset=n, key=None)

    with caplog.at_level(logging.WARNING, logger="streams.worker.reject"):
        asyncio.run(send(100))
        assert len(caplog.records) == 60 and "not logged" not in caplog.text
        now[0] = 2.0
        asyncio.run(send(5))
        asyncio.run(send(100))  # a second flood, then quiet: the sweep tells its count
        letters.log_unlogged()  # no token left: still nothing
        now[0] = 3.0
        letters.log_unlogged()
        letters.log_unlogged()  # nothing more to tell
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 63 and len(topic.sent) == 205
    assert "(40 more dead letters before this one were not logged" in lines[60]
    assert "not logged" not in lines[61]
    assert lines[62].startswith("103 dead letters were not logged")  # 3 of them at t=2


def test_a_message_of_thousands_of_unknown_fields_and_a_huge_key_still_makes_a_letter() -> None:
    """30,000 unknown fields made a reason of 1.1 MB: the letter could not be cut into
    parts (only the original is), the send raised inside the agent's handler for bad
    events, and the batch came back again and again. The reason names the first problems
    and counts the rest; the field and the key are cut too."""
    fields = ",".join(f'"k{n:05x}":0' for n in range(30_000))
    raw = ('{"practice":"A12345","call_id":"c1",' + fields + "}").encode()
    why = normalise(raw, b"A12345:c1", KEY)
    assert isinstance(why, Rejected)
    assert len(why.reason) < 4_000 and why.reason.endswith("more problems")
    letter = make_dead_letter(
        raw, why.reason + "x" * 50_000, "f" * 5_000, topic="raw", partition=0, offset=1,
        message_key=b"A12345:" + b"k" * 100_000, pseudonym_key=KEY,
    )  # fmt: skip
    assert len(letter.reason) < 4_100 and len(letter.field or "") < 300
    assert len(letter.source_key or "") == 1_000
    assert "message key cut to its first 1,000 characters" in letter.redactions
    pieces = in_parts(letter, 100_000)
    assert all(len(p.to_bytes()) <= 100_000 for p in pieces)
    assert "".join(p.original for p in pieces) == letter.original
    assert len(json.loads(letter.original)) == 30_002
