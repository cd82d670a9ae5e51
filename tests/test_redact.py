"""The one masking rule: every spelling of a phone number in free text goes, identifiers stay."""

from __future__ import annotations

import logging
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.core.redact import (
    KEYED_PREFIX,
    MASK,
    mask_log_records,
    mask_phone_numbers,
    masked,
    masked_json,
)

KEY = b"test-key"
FULL_WIDTH = str.maketrans("0123456789+-/_|.() ", "０１２３４５６７８９＋－／＿｜．（）\u3000")
SEPARATORS = [" ", "-", "/", "_", "|", ".", " - ", "  ", "\u2013", "\\", "(", ")"]


@st.composite
def spelled_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(a UK or international number as a person might type it, its digits)."""
    national = draw(st.sampled_from(["7", "1", "2", "3", "8"])) + draw(
        st.text("0123456789", min_size=9, max_size=9)
    )
    prefix = draw(st.sampled_from(["0", "+44", "+44 (0)", "0044 ", "44"]))
    digits = [prefix, *national]
    spelled = prefix
    for digit in national:
        if draw(st.integers(0, 3)) == 0:
            spelled += draw(st.sampled_from(SEPARATORS))
        spelled += digit
    if draw(st.booleans()):
        spelled = spelled.translate(FULL_WIDTH)
    return spelled, "".join(d for d in "".join(digits) if d.isdigit())


#: Text around a number: anything but digits and separators glued to it.
SURROUNDINGS = st.text(
    st.characters(blacklist_categories=["Nd", "Cs"], blacklist_characters="+-/_|.()[]\\ "),
    max_size=12,
)


def _ascii_digits(text: str) -> str:
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


@settings(max_examples=300, derandomize=True)
@given(spelled_numbers(), SURROUNDINGS, SURROUNDINGS, st.sampled_from([None, KEY]))
@example(("07700/900/241", "07700900241"), "team ", "", None)
@example(("07700_900_241", "07700900241"), "", " queue", KEY)
@example(("07700|900|241", "07700900241"), "call:", "", KEY)
@example(("０７７００ ９００２４１", "07700900241"), "", "", None)
@example(("07700\udca0900241", "07700900241"), "'", "'", None)  # cp1252 no-break space, undecoded
def test_every_spelling_of_a_number_is_masked(number, before, after, key) -> None:
    spelled, digits = number
    text = f"{before} {spelled} {after}"
    out, count = mask_phone_numbers(text, key)
    assert count >= 1
    assert digits[-9:] not in _ascii_digits(out), (text, out)
    assert (KEYED_PREFIX if key else MASK) in out


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=60), st.sampled_from([None, KEY]))
def test_masking_twice_changes_nothing_and_leaves_no_long_digit_run(text, key) -> None:
    once = masked(text, key)
    assert masked(once, key) == once
    assert mask_phone_numbers(once, key)[1] == 0


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=40), st.text(max_size=40))
def test_keyed_masks_keep_different_texts_apart(a, b) -> None:
    if a != b:
        assert masked(a, KEY) != masked(b, KEY)
    assert masked(a, KEY) == masked(a, KEY)


@settings(max_examples=100, derandomize=True)
@given(st.uuids(), st.binary(min_size=8, max_size=32))
def test_identifiers_are_left_alone(uid: uuid.UUID, digest: bytes) -> None:
    for value in (str(uid), str(uid).upper(), uid.hex, "f" + digest.hex()):
        assert mask_phone_numbers(value) == (value, 0)


def test_legitimate_values_are_not_mangled() -> None:
    for value in [
        "A81001",
        "201",
        "ext 201",
        "2026-08-03T07:30:00Z",
        "2026-08-03T07:30:00.123456+01:00",
        "1754208000.42",
        "1754208000.42-1",
        "A81001:1785740400.1:3fa2b1c4d5e6:answered",
        "option 3, queue 12, 2026-08-03",
        "20260803-00001-01",
        "A81001-2026-08-03-00001",
        "2026-08-03 07:30:00",
        "reception",
        "12345678",
    ]:
        assert mask_phone_numbers(value) == (value, 0), value


def test_a_number_after_an_identifier_keeps_the_identifier() -> None:
    assert masked("A81001-07700900123") == "A81001-" + MASK
    assert masked("20260803-07700 900123") == "20260803-" + MASK
    assert masked("A81001-07700900123", KEY).startswith("A81001-" + KEYED_PREFIX)


def test_json_error_bodies_are_masked_keys_and_values() -> None:
    body = {"error": "x", "details": [{"field": "+447700900241", "message": "07700 900241"}]}
    assert masked_json(body) == {"error": "x", "details": [{"field": MASK, "message": MASK}]}


def test_log_records_are_masked_with_their_arguments_and_tracebacks(caplog) -> None:
    factory = logging.getLogRecordFactory()
    try:
        mask_log_records()
        mask_log_records()  # idempotent
        log = logging.getLogger("test.redact")
        with caplog.at_level(logging.INFO, "test.redact"):
            log.info("caller %s rang", "07700 900241")
            try:
                raise ValueError("bad number 07700900241")
            except ValueError:
                log.exception("failed")
        text = caplog.text
        assert "900241" not in text and text.count(MASK) >= 2
    finally:
        logging.setLogRecordFactory(factory)


def test_alert_url_secrets_never_reach_a_log_line(caplog) -> None:
    """apprise logs the URLs it cannot use, whole or a token of them; the notifier's refusal
    names only the URL's position and scheme."""
    from streams.worker.alerts import notifier

    factory = logging.getLogRecordFactory()
    mask_log_records()
    caplog.set_level(logging.DEBUG)
    for url in (
        "msteams://SECRETGROUP@SECRETTENANT/SECRETA/SECRETB/SECRETC",
        "slack://TOKENA_SECRET/TOKENB_SECRET/TOKENC_SECRET",
        "SUPERSECRETnoscheme",
    ):
        with pytest.raises(ValueError) as refused:
            notifier(f"json://localhost/hook {url}")
        assert "URL 2" in str(refused.value) and "SECRET" not in str(refused.value)
    assert caplog.records, "apprise logged nothing: the check would prove nothing"
    notifier("json://admin:hunter22%2Cpass@alerts.example.org:8443/callstream")
    logging.getLogger("test.redact").warning(
        "lag on callstream.events.raw; port 8443; services at alerts.example.org; "
        "admin said hunter22,pass"
    )
    logging.setLogRecordFactory(factory)
    assert "SECRET" not in caplog.text, caplog.text
    assert "<secret>" in caplog.text
    # Plain words, host names and ports stay readable: only credentials and tokens go.
    assert (
        "lag on callstream.events.raw; port 8443; services at alerts.example.org; "
        "admin said <secret>"
    ) in caplog.text


def test_an_ipv4_address_is_shown_and_a_dotted_number_is_not() -> None:
    """An operator must see which broker failed (10.255.255.1:9092 was masked as a number);
    a phone number spelt with dots still goes: only an address with its port is kept."""
    assert masked("cannot reach Kafka at 10.255.255.1:9092") == (
        "cannot reach Kafka at 10.255.255.1:9092"
    )
    assert masked("192.168.10.200:9092,172.16.254.100:9093") == (
        "192.168.10.200:9092,172.16.254.100:9093"
    )
    for number in (
        "07700.900.123",
        "077.009.001.23",
        "+44.7700.900.123",
        "44.770.090.012",
        "91.123.45.67",  # a Madrid number spelt with dots: an IPv4 address, but no port
    ):
        assert masked(f"caller {number} rang") == f"caller {MASK} rang", number


def test_a_number_glued_to_a_word_is_masked_whole() -> None:
    """'Mob07700 900333': the group glued to the word was kept as an identifier's, and the
    six digits left were too few to mask, so the number went through whole."""
    for text, kept in [
        ("Mob07700 900333", "Mob"),
        ("Tel07700 900206", "Tel"),
        ("x0161 496 0207", "x"),
        ("ref07700- 900229", "ref"),
        ("Y03059-07700900123", "Y03059-"),  # an identifier's group, a whole number after it
    ]:
        assert masked(text) == kept + MASK, text
    assert masked("A81001-12345") == "A81001-12345"  # an identifier and a sequence
