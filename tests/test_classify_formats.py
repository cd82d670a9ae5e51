"""The input-format registry and the jsonl reader: every line gives an event or a reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from streams.core.rules import load_rules
from streams.ingest.formats import FORMATS, ParsedLine, read_events, register_format

EVENT = {
    "practice": "A12345",
    "call_id": "c1",
    "event_id": "e1",
    "type": "call_started",
    "at": "2026-08-03T07:30:00Z",
    "caller": "07700 900123",
}


def parse(text: str, practice: str | None = None) -> list[ParsedLine]:
    return list(read_events(io.StringIO(text), "jsonl", practice, load_rules()))


def test_each_line_numbered_event_or_error_never_quoting_input() -> None:
    bad_caller = {**EVENT, "event_id": "e2", "caller": "07700 900999", "at": 12}
    text = json.dumps(EVENT) + "\n\n" + json.dumps(bad_caller) + "\n" + "[]\n" + "{\n"
    got = parse(text)
    assert [p.line for p in got] == [1, 3, 4, 5]  # the blank line 2 carries nothing
    assert got[0].event is not None and got[0].event.caller == "07700 900123"
    assert got[1].error == (
        "field 'at': must be an RFC 3339 time with offset, e.g. 2026-08-03T07:30:00Z"
    )
    assert "900999" not in got[1].error
    assert got[2].error == "not a JSON object (one event per line)"
    assert got[3].error.startswith("not valid JSON")


@pytest.mark.parametrize("practice", [None, "A12345"])
def test_json_no_parser_can_take_costs_its_line_alone(practice: str | None) -> None:
    """A number of thousands of digits or nesting past Python's limit: json.loads raises a
    plain ValueError or RecursionError there, not a JSONDecodeError."""
    later = {**EVENT, "event_id": "e2"}
    text = "\n".join([json.dumps(EVENT), "7" * 4301, "[" * 1500, json.dumps(later)]) + "\n"
    got = parse(text, practice)
    assert [(p.line, p.event.event_id if p.event else p.error) for p in got] == [
        (1, "e1"),
        (2, "not JSON an event can be (a huge number, or too deep)"),
        (3, "not JSON an event can be (a huge number, or too deep)"),
        (4, "e2"),
    ]


@pytest.mark.parametrize("practice", [None, "A12345"])
def test_a_line_that_gives_a_field_twice_costs_that_line_naming_it(practice: str | None) -> None:
    twice = json.dumps(EVENT).replace('"e1"', '"e1", "type": "call_ended"')
    text = "\n".join([twice, json.dumps({**EVENT, "event_id": "e2"})]) + "\n"
    got = parse(text, practice)
    assert [(p.line, p.event.event_id if p.event else p.error) for p in got] == [
        (
            1,
            "field 'type': given more than once in this event: which value is meant is not "
            "known; give each field once",
        ),
        (2, "e2"),
    ]


def test_several_bad_fields_are_all_named() -> None:
    [line] = parse(json.dumps({**EVENT, "practice": "nope", "type": "teleported"}))
    assert "field 'practice'" in line.error and "field 'type'" in line.error


def test_practice_fills_only_when_missing_and_must_agree() -> None:
    missing = {k: v for k, v in EVENT.items() if k != "practice"}
    empty = {**EVENT, "practice": ""}
    same = {**EVENT, "practice": "a12345"}
    other = {**EVENT, "practice": "B12345"}
    got = parse("".join(json.dumps(e) + "\n" for e in (missing, empty, same, other)), "A12345")
    assert [p.event.practice if p.event else p.error for p in got] == [
        "A12345",
        "A12345",
        "field 'practice': String should match pattern '^[A-Z][0-9]{5}$'",  # codes are upper case
        "field 'practice': differs from --practice A12345",
    ]


def test_a_bad_practice_option_stops_at_once() -> None:
    with pytest.raises(ValueError, match="ODS code"):
        parse(json.dumps(EVENT), "A1")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format 'x'.*jsonl"):
        list(read_events(tmp_path / "f", "x"))
    with pytest.raises(ValueError, match="cannot read"):
        list(read_events(tmp_path / "f", "jsonl"))


def test_file_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(EVENT).encode() + b"\n")
    [line] = read_events(path, "jsonl", None, load_rules())
    assert line.event is not None


def test_vendor_formats_are_registered_and_new_ones_can_be() -> None:
    assert {"jsonl", "csv", "asterisk-queue-log", "asterisk-cdr", "freeswitch-json"} <= set(FORMATS)

    @register_format("test-upper")
    def upper(lines, practice, rules):
        for n, text in enumerate(lines, 1):
            yield ParsedLine(n, error=f"got {text.strip().upper()}")

    try:
        [line] = read_events(io.StringIO("abc\n"), "test-upper", None, load_rules())
        assert line.error == "got ABC"
    finally:
        del FORMATS["test-upper"]


def test_csv_goes_through_the_adapter() -> None:
    text = "call_id,type,at,caller\nc9,call_started,2026-08-03T07:30:00Z,withheld\n"
    [line] = read_events(io.StringIO(text), "csv", "A12345", load_rules())
    assert line.event is not None and (line.event.practice, line.event.call_id) == ("A12345", "c9")


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    bad = json.dumps({**EVENT, "event_id": "e0"}).encode().replace(b"07700", b"\xff7700")
    path.write_bytes(bad + b"\n" + json.dumps(EVENT).encode() + b"\n")
    first, second = read_events(path, "jsonl", None, load_rules())
    assert first.error == "not UTF-8 text (save the file as UTF-8)" and first.line == 1
    assert second.event is not None


def test_a_vendor_line_that_is_not_utf8_costs_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(
        b"1754206200|c1|q|NONE|ENTERQUEUE||\xff07700|1\n"
        b"1754206201|c2|q|NONE|ENTERQUEUE||07700900123|1\n"
    )
    first, *rest = read_events(path, "asterisk-queue-log", "A12345", load_rules())
    assert (first.line, first.error) == (
        1,
        "ENTERQUEUE: field 'callerid' (data2) is not UTF-8 text (bytes in another encoding)",
    )
    assert [(r.line, r.event.type.value) for r in rest] == [
        (2, "call_started"),
        (2, "queue_joined"),
    ]


def test_nul_padding_is_stripped_and_counted(tmp_path: Path, caplog) -> None:
    path = tmp_path / "queue_log"
    padding = b"\x00" * 512  # what a crash leaves before the next line is appended
    path.write_bytes(
        padding
        + b"1754206200|c1|q|NONE|ENTERQUEUE||07700900123|1\n"
        + padding
        + b"\n"
        + b"1754206260|c1|q|NONE|ABANDON|1|1|60\x00\n"
    )
    with caplog.at_level("WARNING", logger="callstream.adapters"):
        out = list(read_events(path, "asterisk-queue-log", "A12345", load_rules()))
    assert [o.error for o in out if o.error] == []
    assert [o.event.type.value for o in out] == ["call_started", "queue_joined", "call_ended"]
    assert "asterisk-queue-log: NUL padding stripped (bytes): 1025" in caplog.messages
    assert "asterisk-queue-log: NUL padding stripped (lines): 3" in caplog.messages


def test_a_line_too_long_for_any_record_stops_the_read_naming_it(tmp_path, monkeypatch):
    """One 200 MB line took 828 MB before it was rejected: lines are read at most
    MAX_LINE_BYTES at a time, and a longer one is named (the lines before it stand)."""
    from streams.ingest import formats

    monkeypatch.setattr(formats, "MAX_LINE_BYTES", 64)
    good = json.dumps({"x": 1})
    path = tmp_path / "events.jsonl"
    path.write_text(good + "\n" + '{"a": "' + "x" * 200 + '"}\n' + good + "\n")
    read = read_events(path, "jsonl", "A81001", load_rules())
    first = next(read)
    assert first.line == 1
    with pytest.raises(ValueError, match="^line 2 is longer than 64 bytes: not a file of call"):
        next(read)
