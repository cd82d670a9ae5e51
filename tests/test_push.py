"""`callstream push` on the real broker: valid lines sent keyed by call, rejects listed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from pipeline_support import callstream, pipeline_env

from models.events import CallEvent

pytestmark = pytest.mark.kafka

VALID = [
    {
        "practice": "P00001",
        "call_id": "c1",
        "event_id": "e1",
        "type": "call_started",
        "at": "2026-08-03T07:30:00Z",
        "caller": "07700 900123",
    },
    {
        "practice": "P00001",
        "call_id": "c1",
        "event_id": "e2",
        "type": "queue_joined",
        "at": "2026-08-03T07:30:05+01:00",
        "queue": "main",
    },
    {
        "practice": "P00001",
        "call_id": "c2",
        "event_id": "e3",
        "type": "call_ended",
        "at": "2026-08-03T07:31:00Z",
    },
]


def _raw_messages(env: dict[str, str], expected: int) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        env["CALLSTREAM_TOPIC_RAW_EVENTS"],
        bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 20
    try:
        while len(got) < expected and time.monotonic() < deadline:
            got.extend((m.key, m.value) for m in consumer)
    finally:
        consumer.close()
    return got


def test_push_sends_valid_lines_and_lists_rejects(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = pipeline_env(kafka_bootstrap, tmp_path / "data")
    lines = [
        json.dumps(VALID[0]),
        json.dumps({**VALID[1], "at": "2026-08-03T07:30:05"}),  # naive time
        json.dumps(VALID[1]),
        "{not json",
        json.dumps(VALID[2]),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")

    done = callstream(env, "push", str(source))

    assert done.returncode == 1
    assert "3 events sent, 2 rejected" in done.stdout
    assert "Traceback" not in done.stderr
    assert "2 line(s) rejected" in done.stderr
    rejects = [json.loads(line) for line in (tmp_path / "events.jsonl.rejects.jsonl").open()]
    assert [r["line"] for r in rejects] == [2, 4]
    assert all(r["reason"] for r in rejects)

    messages = _raw_messages(env, 3)
    assert sorted(key for key, _ in messages) == [b"P00001:c1", b"P00001:c1", b"P00001:c2"]
    sent = {CallEvent.model_validate_json(value) for _, value in messages}
    assert sent == {CallEvent.model_validate(row) for row in VALID}


def test_clean_file_exits_zero_without_rejects_file(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = pipeline_env(kafka_bootstrap, tmp_path / "data")
    source = tmp_path / "clean.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in VALID))
    done = callstream(env, "push", str(source), "--rejects", str(tmp_path / "r.jsonl"))
    assert done.returncode == 0, done.stderr
    assert "3 events sent, 0 rejected" in done.stdout
    assert not (tmp_path / "r.jsonl").exists()
    (tmp_path / "notes.txt").write_text("not ours\n")  # a named file is never removed
    done = callstream(env, "push", str(source), "--rejects", str(tmp_path / "notes.txt"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notes.txt").read_text() == "not ours\n"
    (tmp_path / "clean.jsonl.rejects.jsonl").write_text("{}\n")  # ours, of an earlier run
    done = callstream(env, "push", str(source))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "clean.jsonl.rejects.jsonl").exists()


def test_unreachable_broker_is_one_clear_line(tmp_path: Path) -> None:
    env = pipeline_env("127.0.0.1:9", tmp_path / "data")
    source = tmp_path / "clean.jsonl"
    source.write_text(json.dumps(VALID[0]) + "\n")
    done = callstream(env, "push", str(source), timeout=120)
    assert done.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:9" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # not kafka-python's retries
    env["CALLSTREAM_KAFKA_BOOTSTRAP"] = "kafka://127.0.0.1:9092"
    done = callstream(env, "push", str(source), timeout=120)
    assert done.returncode == 2 and done.stderr.startswith(
        "Error: CALLSTREAM_KAFKA_BOOTSTRAP: expected host:port"
    ), done.stderr


def test_a_bad_format_or_practice_is_named_before_any_broker_is_sought(tmp_path: Path) -> None:
    env = pipeline_env("127.0.0.1:9", tmp_path / "data")
    source = tmp_path / "clean.jsonl"
    source.write_text(json.dumps(VALID[0]) + "\n")
    for extra, error in (
        (["--format", "bogus"], "Error: unknown format 'bogus': use one of asterisk-cdr"),
        (["--practice", "bad"], "Error: --practice must be an ODS code like A12345"),
    ):
        done = callstream(env, "push", str(source), *extra, timeout=120)
        assert done.returncode == 1 and done.stderr.startswith(error), done.stderr
        assert "Kafka" not in done.stderr


def test_rejects_never_overwrite_the_input_nor_remove_a_file_of_their_own(tmp_path: Path) -> None:
    """`--rejects` naming the pushed file emptied and then deleted it; a named rejects file
    of an earlier run was deleted by a run that had none. Both are checked before Kafka."""
    env = pipeline_env("127.0.0.1:9", tmp_path / "data")
    source = tmp_path / "same.jsonl"
    source.write_text(json.dumps(VALID[0]) + "\n")
    done = callstream(env, "push", str(source), "--rejects", str(source), timeout=120)
    assert done.returncode == 1 and "is the file being pushed" in done.stderr, done.stderr
    assert source.read_text() == json.dumps(VALID[0]) + "\n"
    kept = tmp_path / "kept.jsonl"
    kept.write_text("an earlier run's rejects\n")
    done = callstream(env, "push", str(source), "--rejects", str(kept), timeout=120)
    assert done.returncode == 1 and "cannot reach Kafka" in done.stderr, done.stderr
    assert kept.read_text() == "an earlier run's rejects\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    done = callstream(env, "push", str(source), "--rejects", str(tmp_path / "no" / "r.jsonl"))
    assert done.returncode == 1 and "its folder does not exist" in done.stderr, done.stderr
