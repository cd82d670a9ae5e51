"""`callstream classify` as a user runs it: a real subprocess, files and stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CALLSTREAM = Path(sys.executable).with_name("callstream")
GOOD = [
    {
        "practice": "A12345",
        "call_id": "c2",
        "event_id": "c2-1",
        "type": "call_started",
        "at": "2026-08-03T08:00:00Z",
        "caller": "withheld",
    },
    {
        "practice": "A12345",
        "call_id": "c1",
        "event_id": "c1-3",
        "type": "answered",
        "at": "2026-08-03T07:30:40Z",
        "team": "reception",
        "role": "care_navigator",
    },
    {
        "practice": "A12345",
        "call_id": "c1",
        "event_id": "c1-1",
        "type": "call_started",
        "at": "2026-08-03T07:30:00Z",
        "caller": "07700 900123",
    },
    {
        "practice": "A12345",
        "call_id": "c1",
        "event_id": "c1-2",
        "type": "queue_joined",
        "at": "2026-08-03T07:30:10Z",
        "queue": "main",
    },
    {
        "practice": "A12345",
        "call_id": "c1",
        "event_id": "c1-4",
        "type": "call_ended",
        "at": "2026-08-03T07:32:10Z",
    },
]


def run(args: list[str], data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CALLSTREAM_DATA_DIR": str(data_dir),
        "CALLSTREAM_PSEUDONYMISATION_KEY": "test-key-not-secret",
    }
    env.pop("CALLSTREAM_RULES_FILE", None)
    return subprocess.run(
        [str(CALLSTREAM), "classify", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def lines(events: list[dict]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def test_valid_file_classified_sorted_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(GOOD + [GOOD[1]]))  # one duplicate
    done = run([str(path)], tmp_path)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in done.stdout.splitlines()]
    assert [c["call_id"] for c in calls] == ["c1", "c2"]  # by start time
    c1, c2 = calls
    assert (c1["outcome"], c1["wait_s"], c1["talk_s"], c1["complete"]) == ("answered", 30, 90, True)
    assert (c2["complete"], c2["caller_key"], c2["outcome"]) == (False, None, "ended_in_ivr")
    assert "07700" not in done.stdout and "900123" not in done.stdout + done.stderr
    assert "2 calls (1 complete, 1 incomplete)" in done.stderr
    assert "6 events read (1 repeated event_ids ignored), 0 invalid lines" in done.stderr


def test_invalid_lines_reported_rest_classified_exit_1(tmp_path: Path) -> None:
    bad_time = {**GOOD[4], "event_id": "x1", "at": "2026-08-03T07:32:10"}
    no_team = {**GOOD[1], "event_id": "x2"}
    del no_team["team"]
    text = (
        lines(GOOD[:2])
        + json.dumps(bad_time)
        + "\n"
        + "{not json\n"
        + lines(GOOD[2:4])
        + json.dumps(no_team)
        + "\n"
        + lines(GOOD[4:])
    )
    path = tmp_path / "events.jsonl"
    path.write_text(text)
    done = run([str(path)], tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("line ")]
    assert errors == [
        "line 3: field 'at': Input should have timezone info",
        "line 4: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 7: field 'team' is required for a answered event",
    ]
    calls = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(c["call_id"], c["outcome"]) for c in calls] == [
        ("c1", "answered"),
        ("c2", "ended_in_ivr"),
    ]
    assert "3 invalid lines" in done.stderr


def test_stdin_and_practice_fill_and_mismatch(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD[2].items() if k != "practice"}
    other = {**GOOD[4], "practice": "B99999"}
    done = run(["-", "--practice", "a12345"], tmp_path, stdin=lines([missing, other]))
    assert done.returncode == 1
    assert "line 2: field 'practice': differs from --practice A12345" in done.stderr
    [call] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (call["practice"], call["call_id"], call["complete"]) == ("A12345", "c1", False)


def test_orphan_callbacks_are_not_made_into_calls(tmp_path: Path) -> None:
    orphan = {
        "practice": "A12345",
        "call_id": "gone",
        "event_id": "cb",
        "type": "callback_made",
        "at": "2026-08-03T09:00:00Z",
        "outcome": "answered",
    }
    done = run(["-"], tmp_path, stdin=lines([*GOOD, orphan]))
    assert done.returncode == 1
    assert "call A12345:gone: only callback_made events" in done.stderr
    assert "gone" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "cannot read"),
        (["-", "--format", "nope"], "unknown format 'nope'"),
        (["-", "--practice", "XYZ"], "--practice must be an ODS code"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run([str(tmp_path / a) if a.endswith(".jsonl") else a for a in args], tmp_path, "")
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_rules_file_sets_version_and_options(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text('version: "p-3"\nivr_options: {"1": results}\n')
    option = {
        "practice": "A12345",
        "call_id": "c1",
        "event_id": "c1-9",
        "type": "ivr_option",
        "at": "2026-08-03T07:30:05Z",
        "option": "1",
    }
    done = run(["-", "--rules", str(rules)], tmp_path, stdin=lines([*GOOD[2:], option]))
    assert done.returncode == 0, done.stderr
    [call] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (call["rules_version"], call["request_type"]) == ("p-3", "results")


@pytest.mark.parametrize("stray_first", [True, False])
def test_one_event_with_a_wrong_clock_costs_itself_in_either_order(
    tmp_path: Path, stray_first: bool
) -> None:
    """An ivr_option stamped 5 h after its call: set aside whether it comes before the
    call_started or after, and the call is classified the same either way."""
    stray = {**GOOD[3], "event_id": "c1-9", "type": "ivr_option", "option": "1"}
    stray["at"] = "2026-08-03T12:31:00Z"
    del stray["queue"]
    call = [GOOD[2], GOOD[3], GOOD[1], GOOD[4]]
    path = tmp_path / "events.jsonl"
    path.write_text(lines([stray, *call] if stray_first else [*call, stray]))
    done = run([str(path)], tmp_path)
    assert done.returncode == 1
    [error] = [line for line in done.stderr.splitlines() if line.startswith("line ")]
    assert "field 'at'" in error and "call_max_span_s (14400 s)" in error
    assert error.startswith("line 1: " if stray_first else "line 5: ")  # the stray's own line
    assert "4 events read (0 repeated event_ids ignored), 1 invalid lines" in done.stderr
    [c1] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (c1["outcome"], c1["wait_s"], c1["talk_s"], c1["events"]) == ("answered", 30, 90, 4)
    assert (c1["time_band"], c1["request_type"]) == ("08:00-09:59", None)


@pytest.mark.parametrize("start_comes", [True, False])
def test_a_stray_far_off_first_does_not_cost_the_call_its_events(
    tmp_path: Path, start_comes: bool
) -> None:
    """An ivr_option stamped 9 h after its call comes first, then the queue, answer and end,
    then (or never) the call_started. Those three are held back, not refused: the start puts
    them in the call and sets the stray aside. Without a start the first to come stays the
    call, and what it held back is listed at the end, not classified and not lost."""
    stray = {**GOOD[3], "event_id": "c1-9", "type": "ivr_option", "option": "1"}
    stray["at"] = "2026-08-03T16:31:00Z"
    del stray["queue"]
    rest = [GOOD[3], GOOD[1], GOOD[4]]
    path = tmp_path / "events.jsonl"
    path.write_text(lines([stray, *rest, GOOD[2]] if start_comes else [stray, *rest]))
    done = run([str(path)], tmp_path)
    assert done.returncode == 1
    [c1] = [json.loads(line) for line in done.stdout.splitlines()]
    if start_comes:
        [error] = [line for line in done.stderr.splitlines() if line.startswith("line ")]
        assert error.startswith("line 1: field 'at': 1 event(s) more than call_max_span_s")
        assert error.endswith("its call_started is line 5")
        assert (c1["outcome"], c1["wait_s"], c1["talk_s"], c1["events"]) == ("answered", 30, 90, 4)
        assert "4 events read (0 repeated event_ids ignored), 1 invalid lines" in done.stderr
    else:
        held = [line for line in done.stderr.splitlines() if line.startswith("line ")]
        assert [line.split(":")[0] for line in held] == ["line 2", "line 3", "line 4"]
        assert all("more than twice call_max_span_s (28800 s)" in line for line in held)
        assert all("no call_started came" in line for line in held)
        assert (c1["complete"], c1["events"]) == (False, 1)
        assert "1 events read (0 repeated event_ids ignored), 3 invalid lines" in done.stderr


@pytest.mark.parametrize(
    ("later", "counted"), [("2026-11-09T09:00:00Z", True), ("2026-11-14T09:00:00Z", False)]
)
def test_a_callback_after_the_weekend_counts_one_after_a_week_is_refused(
    tmp_path: Path, later: str, counted: bool
) -> None:
    """Friday 16:00 request, rung back Monday 09:00 (65 h): CBT006 counts it. Eight days on
    it is past CALLSTREAM_CALLBACK_RETENTION_S: refused naming the setting, not counted."""
    friday = [
        ("call_started", "2026-11-06T16:00:00Z", {"caller": "withheld"}),
        ("queue_joined", "2026-11-06T16:00:10Z", {"queue": "main"}),
        ("callback_requested", "2026-11-06T16:01:10Z", {}),
        ("call_ended", "2026-11-06T16:01:15Z", {}),
        ("callback_made", later, {"outcome": "answered"}),
    ]
    events = [
        {
            "practice": "A12345",
            "call_id": "f1",
            "event_id": f"f1-{n}",
            "type": kind,
            "at": at,
            **more,
        }
        for n, (kind, at, more) in enumerate(friday)
    ]
    path = tmp_path / "events.jsonl"
    path.write_text(lines(events))
    done = run([str(path)], tmp_path)
    [call] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (call["outcome"], call["callback_made"]) == ("callback_requested", counted)
    assert done.returncode == (0 if counted else 1)
    if not counted:
        assert "callback_retention_s (604800 s)" in done.stderr
