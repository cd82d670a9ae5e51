"""`callstream classify FILE --format <vendor> --practice ODS` end to end, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.phone_numbers import looks_like_phone_number

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"


def _classify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "classify", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_queue_log_classified_from_the_command_line(data_dir) -> None:
    done = _classify(
        str(FIXTURES / "queue_log"), "--format", "asterisk-queue-log", "--practice", "A12345"
    )
    assert done.returncode == 1, done.stderr  # the fixture has two malformed lines
    assert "line 26: expected epoch|callid|queue|agent|EVENT|data" in done.stderr
    assert "line 29: CONNECT: field 'holdtime' (data1) is not a whole number" in done.stderr
    assert "Traceback" not in done.stderr
    calls = {c["call_id"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert len(calls) == 9
    answered = {
        k: (c["wait_s"], c["talk_s"]) for k, c in calls.items() if c["outcome"] == "answered"
    }
    missed = {k: c["wait_s"] for k, c in calls.items() if c["outcome"] == "missed"}
    assert answered == {
        "1785740400.11": (42, 185),
        "1785740460.17": (12, 64),
        "1785740520.19": (5, 170),
        "1785740700.25": (3, 45),
        "1785740800.27": (8, None),
    }
    assert missed == {
        "1785740405.13": 95,
        "1785740410.15": 300,
        "1785740600.21": 40,
        "1785740650.23": 70,
    }
    assert calls["1785740400.11"]["caller_key"] == calls["1785740460.17"]["caller_key"]
    assert calls["1785740405.13"]["caller_key"] is None
    assert "07700" not in done.stdout and "07700" not in done.stderr  # no raw numbers out


@pytest.mark.parametrize(
    ("name", "fmt", "calls"),
    [
        ("Master.csv", "asterisk-cdr", 9),
        ("freeswitch_cdrs.ndjson", "freeswitch-json", 5),
        ("events.csv", "csv", 4),
    ],
)
def test_other_formats_classify_from_the_command_line(data_dir, name, fmt, calls) -> None:
    done = _classify(str(FIXTURES / name), "--format", fmt, "--practice", "A12345")
    assert done.returncode == 1  # every fixture holds some bad lines, reported on stderr
    assert len(done.stdout.splitlines()) == calls
    assert "Traceback" not in done.stderr


def test_vendor_format_without_practice_is_one_clear_line(data_dir) -> None:
    done = _classify(str(FIXTURES / "queue_log"), "--format", "asterisk-queue-log")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: --practice ODS is required for asterisk-queue-log files: they carry no ODS code"
    )


@pytest.mark.parametrize(
    ("name", "fmt", "calls"),
    [
        ("cdr_freepbx_18.csv", "asterisk-cdr", 5),  # a caller's name in Latin-1
        ("cdr_freepbx_21.csv", "asterisk-cdr", 4),
        ("cdr_custom_Master.csv", "asterisk-cdr", 3),
        ("queue_log_nul", "asterisk-queue-log", 2),  # NUL padding left by a crash
        ("freeswitch_bridged.ndjson", "freeswitch-json", 5),
    ],
)
def test_real_phone_system_files_read_in_full(data_dir, name, fmt, calls) -> None:
    done = _classify(str(FIXTURES / name), "--format", fmt, "--practice", "A12345")
    assert done.returncode == 0, done.stderr
    classified = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(classified) == calls
    assert done.stderr.splitlines()[-1].endswith(", 0 invalid lines")
    assert not [c for c in classified if looks_like_phone_number(c["first_team"])]
    assert "07700" not in done.stdout + done.stderr  # no raw numbers out


def test_a_cdr_layout_we_do_not_read_is_one_line(data_dir, tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text((",".join(["x"] * 23) + "\n") * 14)
    done = _classify(str(path), "--format", "asterisk-cdr", "--practice", "A12345")
    assert done.returncode == 1
    [line] = [x for x in done.stderr.splitlines() if not x.startswith("WARNING")]
    assert line.startswith("Error: asterisk-cdr: line 1 has 23 columns, a layout we do not read.")
    assert "docs/formats.md" in line
