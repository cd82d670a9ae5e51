"""Asterisk cdr_csv adapter on tests/fixtures/adapters/Master.csv (21 columns, 9 calls).

Times in the fixture are London summer time (BST, UTC+1): 08:00:00 local is 07:00:00Z.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.events import CallEvent, EventType
from streams.core.rules import Rules
from streams.ingest.adapters import asterisk_cdr
from streams.ingest.adapters.asterisk_cdr import UNTIMED, read_asterisk_cdr
from streams.ingest.adapters.asterisk_cdr_rows import CDR_CSV_21
from streams.ingest.adapters.common import AdapterLine

FIXTURE = Path(__file__).parent / "fixtures" / "adapters" / "Master.csv"
PRACTICE = "A12345"


#: Practice rules: team -> role, ``admin`` for teams they do not list.
RULES = Rules(
    version="t",
    teams={"reception": {"role": "care_navigator"}, "301": {"role": "nurse"}},
    default_role="admin",
)


def _read(text: str | None = None, **kwargs) -> tuple[list[AdapterLine], Counter[str]]:
    tally: Counter[str] = Counter()
    lines = (text if text is not None else FIXTURE.read_text()).splitlines(keepends=True)
    return list(read_asterisk_cdr(lines, PRACTICE, RULES, tally=tally, **kwargs)), tally


def _calls(out: list[AdapterLine]) -> dict[str, list[CallEvent]]:
    calls: dict[str, list[CallEvent]] = {}
    for item in out:
        if item.event is not None:
            calls.setdefault(item.event.call_id, []).append(item.event)
    return calls


def _kinds(events: list[CallEvent]) -> list[str]:
    return [e.type.value for e in events]


def _at(events: list[CallEvent], kind: str) -> datetime:
    return next(e.at for e in events if e.type.value == kind)


def _gap(events: list[CallEvent], a: str, b: str) -> float:
    return (_at(events, b) - _at(events, a)).total_seconds()


@pytest.fixture(scope="module")
def calls() -> dict[str, list[CallEvent]]:
    return _calls(_read()[0])


def test_malformed_rows_are_reported_with_line_and_column() -> None:
    out, tally = _read()
    assert [(o.line, o.error) for o in out if o.error] == [
        (11, "expected 16, 17, 18, 19, 20 or 21 columns, got 11"),
        (12, "column 'disposition' is not one of ANSWERED, BUSY, CONGESTION, FAILED, NO ANSWER"),
        (13, "column 'start' is not a time like 2026-08-03 08:30:00"),
    ]
    assert tally["legs NO ANSWER"] == 1 and tally["legs BUSY"] == 1


def test_legs_are_grouped_by_linkedid(calls) -> None:
    assert len(calls) == 9
    assert _kinds(calls["1785740700.4"]) == ["call_started", "ringing", "voicemail", "call_ended"]


def test_direct_call_answered_wait_is_duration_minus_billsec(calls) -> None:
    events = calls["1785740400.1"]
    assert _kinds(events) == ["call_started", "ringing", "answered", "call_ended"]
    assert _at(events, "call_started") == datetime(2026, 8, 3, 7, 0, 0, tzinfo=UTC)  # BST
    assert _gap(events, "ringing", "answered") == 192 - 180
    assert _gap(events, "answered", "call_ended") == 180  # billsec
    answered = next(e for e in events if e.type is EventType.answered)
    assert (answered.team, answered.role) == ("201", "admin")


def test_queue_leg_without_a_member_is_a_missed_queue_call(calls) -> None:
    events = calls["1785740460.3"]
    assert _kinds(events) == ["call_started", "queue_joined", "call_ended"]
    assert events[0].caller == "withheld"
    assert events[1].queue == "reception"
    assert _gap(events, "queue_joined", "call_ended") == 95


def test_voicemail_after_no_answer_counts_from_the_ring(calls) -> None:
    events = calls["1785740700.4"]
    assert _gap(events, "ringing", "voicemail") == 20


def test_second_answered_leg_of_another_extension_is_a_transfer(calls) -> None:
    events = calls["1785741000.7"]
    assert _kinds(events) == [
        "call_started",
        "ringing",
        "answered",
        "ringing",
        "transferred",
        "call_ended",
    ]
    transferred = next(e for e in events if e.type is EventType.transferred)
    assert (transferred.team, transferred.role) == ("301", "nurse")
    assert _gap(events, "answered", "call_ended") == 10 * 60 + 7  # 08:10:08 -> 08:20:15


def test_ivr_only_call_has_no_queue_ring_or_answer(calls) -> None:
    assert _kinds(calls["1785741300.10"]) == ["call_started", "call_ended"]


def test_busy_extension_is_a_ring_without_answer(calls) -> None:
    assert _kinds(calls["1785742200.13"]) == ["call_started", "ringing", "call_ended"]


def test_internal_context_calls_are_outbound_and_name_no_team(calls) -> None:
    for call_id in ("1785741900.11", "1785742260.15"):
        events = calls[call_id]
        assert _kinds(events) == ["call_started", "call_ended"]
        assert events[0].direction == "outbound"


#: A direct call answered in winter (GMT), as a 16-column row.
ROW_16 = (
    '"","07700900123","201","from-trunk","","PJSIP/t-1","PJSIP/201-2","Dial","PJSIP/201",'
    '"2026-12-01 08:00:00","2026-12-01 08:00:10","2026-12-01 08:01:10",70,60,"ANSWERED",'
    '"DOCUMENTATION"'
)


def test_winter_times_are_gmt_and_16_and_18_column_rows_are_read() -> None:
    row16 = ROW_16
    row18 = row16.replace("07700900123", "07700900124") + ',"1764576000.5",""'
    out, tally = _read(row16 + "\n" + row18 + "\n")
    calls = _calls(out)
    assert len(calls) == 2 and "1764576000.5" in calls
    starts = {e.at for e in (o.event for o in out if o.event) if e.type is EventType.call_started}
    assert starts == {datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)}  # GMT in winter
    assert tally["rows without linkedid/uniqueid (each row is a call)"] == 1


def test_timezone_option_and_header_row() -> None:
    header = ",".join(
        ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp"]
        + ["lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags"]
    )
    row = (
        '"","0770","s","ivr","","PJSIP/t-1","","Playback","hello",'
        '"2026-08-03 08:00:00","2026-08-03 08:00:00","2026-08-03 08:00:30",30,30,"ANSWERED","3"'
    )
    out, tally = _read(header + "\n" + row + "\n", timezone="UTC")
    assert out[0].event is not None
    assert out[0].event.at == datetime(2026, 8, 3, 8, 0, 0, tzinfo=UTC)
    assert tally["skipped: header row"] == 1
    with pytest.raises(ValueError, match="not a known time zone"):
        read_asterisk_cdr([], PRACTICE, RULES, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="--practice ODS is required"):
        read_asterisk_cdr([], "", RULES)


def test_event_ids_are_unique_and_stable() -> None:
    first = [o.event.event_id for o in _read()[0] if o.event]
    assert first == [o.event.event_id for o in _read()[0] if o.event]
    assert len(set(first)) == len(first)


def test_registered_format_reads_the_timezone_setting(data_dir, monkeypatch) -> None:
    from streams.core.rules import load_rules
    from streams.ingest.formats import read_events
    from streams.settings import get_settings

    def first_start() -> datetime:
        out = read_events(FIXTURE, "asterisk-cdr", PRACTICE, load_rules())
        return next(o.event.at for o in out if o.event)

    assert first_start() == datetime(2026, 8, 3, 7, 0, 0, tzinfo=UTC)  # default: London
    monkeypatch.setenv("CALLSTREAM_CDR_TIMEZONE", "UTC")
    get_settings.cache_clear()
    assert first_start() == datetime(2026, 8, 3, 8, 0, 0, tzinfo=UTC)


def test_empty_src_falls_back_to_the_number_in_clid() -> None:
    row = (
        '"","","201","from-trunk","""A Patient"" <07700900123>","PJSIP/t-1","PJSIP/201-2","Dial",'
        '"PJSIP/201","2026-12-01 08:00:00","","2026-12-01 08:00:20",20,0,"NO ANSWER","3"'
    )
    out, _ = _read(row + "\n")
    assert out[0].event.caller == "07700900123"
    no_number, _ = _read(row.replace("<07700900123>", "") + "\n")
    assert no_number[0].event.caller == "withheld"


def test_a_layout_we_do_not_read_is_one_message_for_the_file() -> None:
    row = ",".join(['"x"'] * 23)
    with pytest.raises(ValueError) as err:
        _read(row + "\n" + row + "\n")
    message = str(err.value)
    assert message.startswith("asterisk-cdr: line 1 has 23 columns, a layout we do not read.")
    assert "cdr_custom's stock Master.csv mapping (19 columns, clid first)" in message
    assert "docs/formats.md" in message


def test_a_header_row_names_the_columns_in_any_order() -> None:
    header = "uniqueid,clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,start,"
    header += "answer,end,duration,billsec,disposition"
    row = (
        '"1764576000.7","","07700900123","201","from-trunk","PJSIP/t-1","PJSIP/201-2","Dial",'
        '"PJSIP/201","2026-12-01 08:00:00","2026-12-01 08:00:10","2026-12-01 08:01:10",70,60,'
        '"ANSWERED"'
    )
    out, tally = _read(header + "\n" + row + "\n" + row[:40] + "\n")
    assert tally["skipped: header row"] == 1
    assert [(o.line, o.error) for o in out if o.error] == [(3, "expected 15 columns, got 5")]
    calls = _calls(out)
    assert _kinds(calls["1764576000.7"]) == ["call_started", "ringing", "answered", "call_ended"]


def test_18_and_21_column_rows_in_one_file_and_bad_numbers() -> None:
    row18 = ROW_16 + ',"1764576000.5",""'
    row21 = row18.replace("1764576000.5", "1764576100.6") + ',"","1764576100.6",1'
    bad = row18.replace(",70,60,", ",seventy,60,")
    out, _ = _read("\n".join([row18, row21, bad]) + "\n")
    assert sorted(_calls(out)) == ["1764576000.5", "1764576100.6"]
    assert [(o.line, o.error) for o in out if o.error] == [
        (3, "column 'duration' is not a number of seconds a call can take")
    ]


def test_bytes_that_are_not_utf8_only_cost_a_row_outside_free_text() -> None:
    row = (
        '"","07700900123","201","from-trunk","""Z\xfcrich"" <07700900123>","PJSIP/t-1",'
        '"PJSIP/201-2","Dial","PJSIP/201","2026-12-01 08:00:00","2026-12-01 08:00:10",'
        '"2026-12-01 08:01:10",70,60,"ANSWERED","DOCUMENTATION","1764576000.5",""'
    )
    bad_src = row.replace('"07700900123","201"', '"0770\xfc900123","201"')
    text = (row + "\n" + bad_src.replace("1764576000.5", "1764576000.6") + "\n").encode("latin-1")
    out, _ = _read(text.decode("utf-8", "surrogateescape"))  # as decode_lines gives them
    assert [(o.line, o.error) for o in out if o.error] == [
        (2, "column 'src' is not UTF-8 text (bytes in another encoding)")
    ]
    assert sorted(_calls(out)) == ["1764576000.5"]


#: A good 21-column row, its call id and caller; bad rows are made from it (another caller).
GOOD_ID, GOOD_CALLER, BAD_CALLER = "1785740400.1", "07700900123", "07700900456"
GOOD_21 = dict(
    zip(
        CDR_CSV_21,
        [
            *("", GOOD_CALLER, "201", "from-trunk", f'"A Patient" <{GOOD_CALLER}>'),
            *("PJSIP/trunk-1", "PJSIP/201-2", "Dial", "PJSIP/201,30", "2026-08-03 08:00:00"),
            *("2026-08-03 08:00:12", "2026-08-03 08:03:12", "192", "180", "ANSWERED"),
            *("DOCUMENTATION", GOOD_ID, "", "", GOOD_ID, "1"),
        ],
        strict=True,
    )
)


#: The bad rows' own call and caller.
BAD_IDS = {
    "src": BAD_CALLER,
    "clid": f'"B Patient" <{BAD_CALLER}>',
    "uniqueid": "1785740460.2",
    "linkedid": "1785740460.2",
}


def _row(values: dict[str, str], unquoted: frozenset[str] = frozenset()) -> str:
    """A row as cdr_csv writes it: every value in quotes (but the columns in ``unquoted``)."""
    return ",".join(
        v if name in unquoted else '"' + v.replace('"', '""') + '"' for name, v in values.items()
    )


def _bad(unquoted: frozenset[str] = frozenset(), **cells: str) -> str:
    """The good row as another caller's call, with ``cells`` changed."""
    return _row({**GOOD_21, **BAD_IDS, **cells}, unquoted)


def _one_bad_row(bad: str) -> AdapterLine:
    """Read good, bad, good: both good rows are calls, the bad one is the only error and it
    does not quote the caller's number (nor four digits of it in a row)."""
    good = _row(GOOD_21)
    later = good.replace(GOOD_ID, "1785740520.3").replace("08:0", "08:1")
    lines = [good + "\n", bad + "\n", later + "\n"]  # as a file gives them: a CR ends no line
    out = list(read_asterisk_cdr(lines, PRACTICE, RULES))
    assert sorted(_calls(out)) == [GOOD_ID, "1785740520.3"]
    assert _kinds(_calls(out)[GOOD_ID]) == ["call_started", "ringing", "answered", "call_ended"]
    [error] = [o for o in out if o.error]
    assert error.line == 2
    assert not any(BAD_CALLER[i : i + 4] in error.error for i in range(len(BAD_CALLER) - 3))
    return error


def test_a_duration_no_call_can_take_costs_its_row_only() -> None:
    error = _one_bad_row(_bad(duration="1e15"))
    assert error.error == "column 'duration' is not a number of seconds a call can take"


def test_a_billsec_no_call_can_take_costs_its_row_only() -> None:
    error = _one_bad_row(_bad(billsec="99999999999"))
    assert error.error == "column 'billsec' is not a number of seconds a call can take"


@pytest.mark.parametrize("column", ["start", "answer", "end"])
def test_a_time_in_the_year_9999_costs_its_row_only(column: str) -> None:
    error = _one_bad_row(_bad(**{column: "9999-12-31 23:59:59"}))
    assert error.error == f"column '{column}' is not a time a call can have (years 2000 to 2099)"


@pytest.mark.parametrize("sequence", ["\u00b2", "7" * 5000], ids=["superscript", "5000 digits"])
def test_a_sequence_that_is_not_a_whole_number_costs_its_row_only(sequence: str) -> None:
    error = _one_bad_row(_bad(sequence=sequence))
    assert error.error == "column 'sequence' is not a whole number"


def test_a_bare_carriage_return_costs_its_row_and_the_csv_reader_goes_on() -> None:
    bad = _bad(frozenset({"src"}), src=BAD_CALLER[:5] + "\r" + BAD_CALLER[5:])
    error = _one_bad_row(bad)
    assert error.error == "column 'src' has a carriage return (CR) outside quotes"


def test_a_field_over_the_csv_limit_costs_its_row_and_the_csv_reader_goes_on() -> None:
    error = _one_bad_row(_bad(userfield="u" * 200_000))
    assert error.error == "column 'userfield' is longer than 131072 characters"


def test_a_fault_no_check_foresaw_costs_its_row_or_its_call_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_read_leg = asterisk_cdr.read_leg

    def read_leg(line: int, cells: list[str], *args):
        if BAD_CALLER in cells:
            raise OverflowError(f"value {BAD_CALLER} out of range")
        return real_read_leg(line, cells, *args)

    monkeypatch.setattr(asterisk_cdr, "read_leg", read_leg)
    error = _one_bad_row(_bad())
    assert error.error == "the row could not be read (OverflowError)"
    monkeypatch.undo()

    real_all = asterisk_cdr._CallEvents.all

    def all_events(self):
        if self.main[0].row["src"] == BAD_CALLER:
            raise KeyError(BAD_CALLER)
        return real_all(self)

    monkeypatch.setattr(asterisk_cdr._CallEvents, "all", all_events)
    error = _one_bad_row(_bad())
    assert error.error == "the call starting on this row could not be read (KeyError)"
    assert not re.search(r"\d", error.error)


def test_every_cdr_csv_option_mix_reads_the_same_calls() -> None:
    """cdr_csv adds uniqueid (loguniqueid), userfield (loguserfield) and peeraccount,
    linkedid, sequence (newcdrcolumns) each on its own: 17 and 20 columns stopped the file.
    The 17th column is a uniqueid when shaped like one (also after a systemname), else the
    userfield."""
    cells = [row for row in csv.reader(FIXTURE.read_text().splitlines()) if len(row) == 21]

    def text(keep: list[int]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for row in cells:
            writer.writerow([row[i] for i in keep])
        return out.getvalue()

    base = list(range(16))
    mixes = {
        "18": base + [16, 17],
        "17 uniqueid": base + [16],
        "20 uniqueid": base + [16, 18, 19, 20],
        "21": list(range(21)),
    }
    calls = {name: _calls(_read(text(keep))[0]) for name, keep in mixes.items()}
    errors = {
        name: [(o.line, o.error) for o in _read(text(keep))[0] if o.error]
        for name, keep in mixes.items()
    }
    assert len(errors["18"]) == 2  # the fixture's two bad rows, alike in every layout
    assert all(found == errors["18"] for found in errors.values()), errors
    for name, same_as in (("17 uniqueid", "18"), ("20 uniqueid", "21")):  # linkedid joins legs
        assert {k: _kinds(v) for k, v in calls[name].items()} == {
            k: _kinds(v) for k, v in calls[same_as].items()
        }
    userfield = [row[:16] + ["a note"] for row in cells]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(userfield)
    read, _ = _read(out.getvalue())
    assert [(o.line, o.error) for o in read if o.error] == errors["18"]
    assert all(call_id.startswith("cdr-") for call_id in _calls(read))  # no uniqueid: by row
    named = text(mixes["17 uniqueid"]).replace('"1785740400.1"', '"gp-pbx-1785740400.1"')
    assert "gp-pbx-1785740400.1" in _calls(_read(named)[0])


def test_a_dial_to_a_divert_number_is_an_ivr_divert_not_an_answer() -> None:
    """An IVR's "press 3 for NHS 111" dials out: the far end answering is not the practice
    answering (CBT002, not CBT003), once the rules name the number."""
    from streams.core.rules import PhoneSystem

    rules = RULES.model_copy(update={"phone_system": PhoneSystem(divert_numbers={"111": "nhs111"})})
    row = ROW_16.replace('"PJSIP/201-2","Dial","PJSIP/201"', '"PJSIP/t-9","Dial","PJSIP/111@trunk"')
    tally: Counter[str] = Counter()
    out = list(read_asterisk_cdr([row + "\n"], PRACTICE, rules, tally=tally))
    (events,) = _calls(out).values()
    assert _kinds(events) == ["call_started", "ivr_divert", "call_ended"]
    assert events[1].target == "nhs111"
    assert tally["diverted to nhs111 (phone_system.divert_numbers)"] == 1
    (events,) = _calls(_read(row + "\n")[0]).values()  # without the rule: someone answered
    assert "answered" in _kinds(events)


#: Asterisk 12+: an IVR answered the caller at 12:00:01, then Dial(PJSIP/201&PJSIP/202)
#: began at 12:00:20 (the second device's row starts then) and 201 picked up at 12:00:32.
#: The first row keeps the channel's start and the IVR's answer: billsec 211 counts from it.
IVR_THEN_RING_GROUP = '''\
"","07700900401","600","ringgroups","""A Patient"" <07700900401>","PJSIP/trunk-00000401",\
"PJSIP/201-00000402","Dial","PJSIP/201&PJSIP/202,20,tT","2026-08-03 12:00:00",\
"2026-08-03 12:00:01","2026-08-03 12:03:32",212,211,"ANSWERED","DOCUMENTATION",\
"1785758400.401","","","1785758400.401",401
"","07700900401","600","ringgroups","""A Patient"" <07700900401>","PJSIP/trunk-00000401",\
"PJSIP/202-00000403","Dial","PJSIP/201&PJSIP/202,20,tT","2026-08-03 12:00:20",\
"2026-08-03 12:00:20","2026-08-03 12:00:32",12,12,"NO ANSWER","DOCUMENTATION",\
"1785758400.401","","","1785758400.401",402
'''


def test_an_ivr_answer_kept_on_the_dial_row_is_no_pickup_time() -> None:
    """It was read as a pickup 1 s in (wait 1, talk 211). The phones rang from 12:00:20;
    when 201 picked up is in no row: answered, wait and talk unknown."""
    out, tally = _read(IVR_THEN_RING_GROUP)
    (events,) = _calls(out).values()
    assert _kinds(events).count("answered") == 1
    rang = {e.at for e in events if e.type is EventType.ringing}
    assert rang == {datetime(2026, 8, 3, 11, 0, 20, tzinfo=UTC)}  # BST: both from 12:00:20
    answered = next(e for e in events if e.type is EventType.answered)
    assert answered.time_known is False
    assert tally[UNTIMED] == 1
    # One device, answered 2 s after the channel came up: the IVR's answer, not a person's.
    first_row = IVR_THEN_RING_GROUP.split("\n")[0]
    single = first_row.replace("212,211", "212,210").replace("12:00:01", "12:00:02")
    (events,) = _calls(_read(single + "\n")[0]).values()
    assert next(e for e in events if e.type is EventType.answered).time_known is False
