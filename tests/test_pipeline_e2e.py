"""End to end on the real broker: push -> `callstream worker` -> DuckLake, read like an analyst.

One worker subprocess serves the whole module; each test uses its own practice codes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from pipeline_support import (
    Worker,
    callstream,
    pipeline_env,
    read_dead_letters,
    read_truth,
    start_worker,
    wait_until,
)

from models.classified import ClassifiedCall
from streams.ingest.producer import ensure_topics

pytestmark = pytest.mark.kafka

FIELDS = list(ClassifiedCall.model_fields)


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("pipeline")
    running = start_worker(pipeline_env(kafka_bootstrap, base / "data"), base / "worker.log")
    yield running
    code = running.stop()
    assert code == 0, f"worker did not stop cleanly on SIGTERM:\n{running.tail()}"


def _event(practice: str, call: str, n: int, type_: str, at: str, **fields: str) -> dict:
    return {
        "practice": practice,
        "call_id": call,
        "event_id": f"{call}-{n}",
        "type": type_,
        "at": f"2026-08-03T{at}Z",
        **fields,
    }


def hand_cases(p: str) -> list[dict]:
    """Hand-worked calls: each outcome, out of order, duplicated, outbound, never ended."""
    nav = {"team": "reception", "role": "care_navigator"}
    return [
        # answered after 50 s in the queue, talk 2 min; events out of order and one repeated
        _event(p, "answered", 4, "call_ended", "07:33:00"),
        _event(p, "answered", 1, "call_started", "07:30:00", caller="07700 900123"),
        _event(p, "answered", 2, "queue_joined", "07:30:10", queue="main"),
        _event(p, "answered", 3, "answered", "07:31:00", **nav),
        _event(p, "answered", 3, "answered", "07:31:00", **nav),
        # missed: queued, hung up
        _event(p, "missed", 1, "call_started", "08:00:00", caller="withheld"),
        _event(p, "missed", 2, "queue_joined", "08:00:05", queue="main"),
        _event(p, "missed", 3, "call_ended", "08:04:00"),
        # ended in the IVR: diverted to the pharmacy
        _event(p, "ivr", 1, "call_started", "09:00:00", caller="+44 7700 900124"),
        _event(p, "ivr", 2, "ivr_option", "09:00:10", option="2", request_type="prescriptions"),
        _event(p, "ivr", 3, "ivr_divert", "09:00:12", target="pharmacy"),
        _event(p, "ivr", 4, "call_ended", "09:00:30"),
        # callback requested in the queue (its callback_made arrives later, see the test)
        _event(p, "callback", 1, "call_started", "10:00:00", caller="07700 900125"),
        _event(p, "callback", 2, "queue_joined", "10:00:05", queue="main"),
        _event(p, "callback", 3, "callback_requested", "10:02:05"),
        _event(p, "callback", 4, "call_ended", "10:02:10"),
        # outbound: never CBT001
        _event(
            p,
            "outbound",
            1,
            "call_started",
            "11:00:00",
            caller="07700 900126",
            direction="outbound",
        ),
        _event(p, "outbound", 2, "answered", "11:00:20", **nav),
        _event(p, "outbound", 3, "call_ended", "11:03:00"),
        # never ended: closed by the worker's timeout, complete = false
        _event(p, "open", 1, "call_started", "12:00:00", caller="07700 900127"),
        _event(p, "open", 2, "queue_joined", "12:00:05", queue="main"),
    ]


def late_callback(p: str) -> list[dict]:
    return [_event(p, "callback", 5, "callback_made", "11:30:00", outcome="answered")]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def classified(worker: Worker, practice: str) -> dict[str, dict]:
    """The `calls` rows of a practice by call id, as ClassifiedCall field values."""
    frame = worker.query(
        f"SELECT {', '.join(FIELDS)} FROM calls WHERE practice = '{practice}' ORDER BY call_id"
    )
    return {
        row["call_id"]: ClassifiedCall.model_validate(row).model_dump() for row in frame.to_dicts()
    }


def classify_cli(worker: Worker, path: Path) -> dict[str, dict]:
    done = callstream(worker.env, "classify", str(path))
    assert done.returncode == 0, done.stderr
    calls = [ClassifiedCall.model_validate_json(line) for line in done.stdout.splitlines() if line]
    return {call.call_id: call.model_dump() for call in calls}


def push(worker: Worker, path: Path) -> subprocess.CompletedProcess:
    done = callstream(worker.env, "push", str(path))
    assert done.returncode == 0, done.stderr
    return done


def test_hand_cases_equal_classify_and_late_callback_updates(worker: Worker, tmp_path: Path):
    practice = "H00001"
    first = write_jsonl(tmp_path / "day.jsonl", hand_cases(practice))
    expected = classify_cli(worker, first)
    assert len(expected) == 6 and expected["open"]["complete"] is False

    assert "21 events sent, 0 rejected" in push(worker, first).stdout
    worker.wait_for_calls(6, f"practice = '{practice}'")
    _wait_equal(worker, practice, expected)

    late = write_jsonl(tmp_path / "late.jsonl", late_callback(practice))
    both = write_jsonl(tmp_path / "both.jsonl", hand_cases(practice) + late_callback(practice))
    expected = classify_cli(worker, both)
    assert expected["callback"]["callback_made"] is True
    push(worker, late)
    _wait_equal(worker, practice, expected)

    # The same file again: every event is a duplicate, nothing may change.
    push(worker, first)
    worker.wait_drained()
    assert classified(worker, practice) == expected


def _wait_equal(worker: Worker, practice: str, expected: dict[str, dict]) -> None:
    wait_until(lambda: classified(worker, practice) == expected, 60, "calls == classify")


def test_simulated_day_equals_truth_and_sql_answers_while_writing(
    worker: Worker, tmp_path: Path
) -> None:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    done = callstream(
        worker.env,
        "simulate",
        "--practices",
        "2",
        "--start",
        "2026-08-03",
        "--days",
        "1",
        "--out",
        str(events),
        "--truth",
        str(truth),
    )
    assert done.returncode == 0, done.stderr
    expected, where = read_truth(truth)

    pusher = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "push", str(events)],
        env=worker.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    answers = []  # a second process reads while the worker writes
    while worker.count(where) < len(expected):
        reader = callstream(
            worker.env, "sql", "--format", "json", f"SELECT count(*) AS n FROM calls WHERE {where}"
        )
        assert reader.returncode == 0, reader.stderr
        answers.append(reader.stdout)
        worker.assert_alive()
        assert len(answers) < 200, "the pipeline did not finish"
    assert pusher.wait(timeout=60) == 0
    assert answers, "no read happened during ingestion"

    def rows() -> dict:
        return {
            (p, call_id): row
            for p in sorted({p for p, _ in expected})
            for call_id, row in classified(worker, p).items()
        }

    got = rows()
    assert got.keys() == expected.keys()
    for key, row in expected.items():
        assert got[key] == row, key

    push(worker, events)
    worker.wait_drained()
    assert rows() == got


def test_invalid_events_reach_dead_letter_while_valid_ones_flow(worker: Worker) -> None:
    practice = "D00001"
    good = [
        _event(practice, "ok", 1, "call_started", "07:30:00", caller="07700 900200"),
        _event(practice, "ok", 2, "call_ended", "07:30:40"),
    ]
    bad = [
        (b"D00001:x1", b"caller=07700900201 this is not json"),
        (
            b"D00001:x2",
            json.dumps(
                _event(practice, "x2", 1, "call_started", "07:31:00", caller="07700 900202")
                | {"at": "2026-08-03T07:31:00"}
            ).encode(),
        ),
        (b"D00001:x3", json.dumps(_event(practice, "x3", 1, "queue_joined", "07:32:00")).encode()),
        (b"D00001:wrong", json.dumps(_event(practice, "x4", 1, "call_ended", "07:33:00")).encode()),
    ]
    bootstrap = worker.env["CALLSTREAM_KAFKA_BOOTSTRAP"]
    topic = worker.env["CALLSTREAM_TOPIC_RAW_EVENTS"]
    ensure_topics(bootstrap, {topic: int(worker.env["CALLSTREAM_TOPIC_PARTITIONS"])})
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for key, value in bad:
        producer.send(topic, key=key, value=value)
    for event in good:
        producer.send(topic, key=b"D00001:ok", value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    worker.wait_for_calls(1, f"practice = '{practice}'")
    letters = read_dead_letters(worker.env, len(bad))
    by_key = {letter["source_key"]: letter for letter in letters}
    assert set(by_key) >= {"D00001:x1", "D00001:x2", "D00001:x3", "D00001:wrong"}
    assert by_key["D00001:x1"]["reason"].startswith("not valid JSON")
    assert by_key["D00001:x2"]["field"] == "at"
    assert by_key["D00001:x3"]["field"] == "queue"
    assert by_key["D00001:wrong"]["field"] == "key"
    for letter in letters:
        assert letter["source_topic"] == topic and letter["source_offset"] >= 0
        assert "0770090020" not in json.dumps(letter)  # no raw number survives
    assert "caller replaced by its pseudonym" in by_key["D00001:x2"]["redactions"]
    assert classified(worker, practice)["ok"]["complete"] is True
