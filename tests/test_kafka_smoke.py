"""Smoke test on the real broker: kafka-python produces 10,000 messages (acks=all), a Faust
agent in a real worker process consumes each exactly once, and the topics the app declares
exist with its partition counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

pytestmark = pytest.mark.kafka

MESSAGES = 10_000
APP = Path(__file__).with_name("smoke_app.py")
IN_PARTITIONS = 6
OUT_PARTITIONS = 3


def _partitions(admin: KafkaAdminClient, topic: str) -> int:
    """Partition count of ``topic``; 0 while it does not exist."""
    described = admin.describe_topics([topic])
    if not described or described[0].get("error_code"):
        return 0
    return len(described[0]["partitions"])


def _log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@dataclass
class SmokeWorker:
    """A running worker of tests/smoke_app.py and the topics it uses."""

    topic_in: str
    topic_out: str
    proc: subprocess.Popen[bytes]
    log: Path

    def check_alive(self) -> None:
        assert self.proc.poll() is None, f"the worker died:\n{_log_tail(self.log)}"


@pytest.fixture
def smoke_worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[SmokeWorker]:
    """A running smoke worker with its own topics and consumer group."""
    run = uuid.uuid4().hex[:8]
    names = {
        "SMOKE_BOOTSTRAP": kafka_bootstrap,
        "SMOKE_APP_ID": f"smoke-{run}",
        "SMOKE_TOPIC_IN": f"smoke-in-{run}",
        "SMOKE_TOPIC_OUT": f"smoke-out-{run}",
        "SMOKE_DATADIR": str(tmp_path / "faust"),
        "SMOKE_IN_PARTITIONS": str(IN_PARTITIONS),
        "SMOKE_OUT_PARTITIONS": str(OUT_PARTITIONS),
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(APP), "worker", "--without-web", "--loglevel", "warn"],
            env={**os.environ, **names},
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        worker = SmokeWorker(names["SMOKE_TOPIC_IN"], names["SMOKE_TOPIC_OUT"], proc, log)
        yield worker
        worker.check_alive()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_faust_worker_consumes_every_message_exactly_once(
    kafka_bootstrap: str, smoke_worker: SmokeWorker
) -> None:
    topic_in, topic_out, log = smoke_worker.topic_in, smoke_worker.topic_out, smoke_worker.log
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        # Produce only once the worker declared its input topic: producing first would
        # let the broker auto-create it with one partition.
        deadline = time.monotonic() + 60
        while _partitions(admin, topic_in) == 0:
            smoke_worker.check_alive()
            assert time.monotonic() < deadline, f"no {topic_in} declared:\n{_log_tail(log)}"
            time.sleep(0.5)

        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
        for number in range(MESSAGES):
            producer.send(topic_in, key=b"k%d" % (number % 97), value=b"%d" % number)
        producer.flush(timeout=60)
        producer.close()

        consumer = KafkaConsumer(
            topic_out,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        received: list[bytes] = []
        deadline = time.monotonic() + 90
        quiet_until = None
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            received.extend(record.value for records in batch.values() for record in records)
            if len(received) >= MESSAGES:
                # keep listening a moment: a duplicate would arrive right behind
                quiet_until = quiet_until or time.monotonic() + 2
                if time.monotonic() > quiet_until:
                    break
        consumer.close()

        assert len(received) == MESSAGES, f"got {len(received)}:\n{_log_tail(log)}"
        assert set(received) == {b"%d" % number for number in range(MESSAGES)}
        assert _partitions(admin, topic_in) == IN_PARTITIONS
        assert _partitions(admin, topic_out) == OUT_PARTITIONS
    finally:
        admin.close()
