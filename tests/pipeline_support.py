"""Helpers for the end-to-end pipeline tests: a real `callstream worker` subprocess on the real
broker, with its own data dir, app id and topic names so tests never see each other's data."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.settings import Settings

TEST_KEY = "test-key-not-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline_env(bootstrap: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for callstream subprocesses: unique app id and topics, fast timers."""
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "CALLSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "CALLSTREAM_DATA_DIR": str(data_dir),
        "CALLSTREAM_PSEUDONYMISATION_KEY": TEST_KEY,
        "CALLSTREAM_APP_ID": f"t{tag}",
        "CALLSTREAM_TOPIC_RAW_EVENTS": f"t{tag}.raw",
        "CALLSTREAM_TOPIC_CLASSIFIED": f"t{tag}.classified",
        "CALLSTREAM_TOPIC_DEAD_LETTER": f"t{tag}.dead",
        "CALLSTREAM_TOPIC_LIVE": f"t{tag}.live",
        "CALLSTREAM_TOPIC_PARTITIONS": "2",
        "CALLSTREAM_WEB_PORT": str(free_port()),
        "CALLSTREAM_CALL_TIMEOUT_S": "3",
        "CALLSTREAM_SWEEP_INTERVAL_S": "0.5",
        "CALLSTREAM_WRITER_BATCH_SECONDS": "0.3",
        "CALLSTREAM_PIPELINE_BATCH_SECONDS": "0.1",
    }
    env.update(overrides)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """The Settings a callstream process started with ``env`` reads (its CALLSTREAM_* vars)."""
    prefix = "CALLSTREAM_"
    fields = {
        key[len(prefix) :].lower(): value
        for key, value in env.items()
        if key.startswith(prefix) and key[len(prefix) :].lower() in Settings.model_fields
    }
    return Settings(**fields)


def read_truth(path: Path) -> tuple[dict[tuple[str, str], dict], str]:
    """The simulator's truth file as {(practice, call_id): fields}, and a SQL condition that
    selects its practices' calls."""
    from models.classified import ClassifiedCall

    expected = {}
    for line in path.read_text().splitlines():
        call = ClassifiedCall.model_validate_json(line)
        expected[(call.practice, call.call_id)] = call.model_dump()
    practices = sorted({p for p, _ in expected})
    return expected, "practice IN (" + ", ".join(f"'{p}'" for p in practices) + ")"


def callstream(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run a callstream command as a user would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)


@dataclass
class Worker:
    """A running `callstream worker` subprocess and how to talk to what it writes."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen

    @property
    def settings(self) -> Settings:
        return settings_from(self.env)

    def query(self, sql: str) -> pl.DataFrame:
        """Read-only query in this process, as an analyst would."""
        from streams.warehouse.store import Warehouse

        warehouse = Warehouse.open(self.settings, read_only=True)
        try:
            return warehouse.query(sql)
        finally:
            warehouse.close()

    def count(self, where: str = "TRUE") -> int:
        try:
            return int(self.query(f"SELECT count(*) AS n FROM calls WHERE {where}")["n"][0])
        except Exception:  # no warehouse before the worker's first commit
            self.assert_alive()
            return 0

    def warehouse_ready(self) -> bool:
        """Whether readers can query yet (the worker creates the warehouse as it starts)."""
        try:
            self.query("SELECT count(*) FROM calls")
        except Exception:
            self.assert_alive()
            return False
        return True

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_calls(self, expected: int, where: str = "TRUE", timeout: float = 120) -> None:
        try:
            wait_until(
                lambda: self.count(where) >= expected, timeout, f"{expected} calls ({where})"
            )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; {self.count(where)} so far. Worker log:\n{self.tail(80)}"
            ) from None

    def wait_drained(self, timeout: float = 60) -> None:
        """Until the worker has committed every message of the raw and classified topics."""
        bootstrap = self.env["CALLSTREAM_KAFKA_BOOTSTRAP"]
        group = self.env["CALLSTREAM_APP_ID"]
        topics = [self.env["CALLSTREAM_TOPIC_RAW_EVENTS"], self.env["CALLSTREAM_TOPIC_CLASSIFIED"]]
        partitions = int(self.env["CALLSTREAM_TOPIC_PARTITIONS"])
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        try:

            def drained() -> bool:
                self.assert_alive()
                ends = consumer.end_offsets(tps)
                committed = admin.list_group_offsets(group).get(group, {})
                return all(
                    ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp])
                    for tp in tps
                )

            wait_until(drained, timeout, "the worker to commit every message")
        finally:
            admin.close()
            consumer.close()

    def wait_for_web(self, timeout: float = 90) -> None:
        """Until the worker's web server answers /health with 200."""

        def up() -> bool:
            self.assert_alive()
            port = int(self.env["CALLSTREAM_WEB_PORT"])
            conn = http.client.HTTPConnection("127.0.0.1", port, 5)
            try:
                conn.request("GET", "/health")
                return conn.getresponse().status == 200
            except OSError:
                return False
            finally:
                conn.close()

        wait_until(up, timeout, "the worker's web server")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def launch_worker(env: dict[str, str], log: Path) -> Worker:
    """Start a worker process and return at once (``ready`` waits for it)."""
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    return Worker(env, log, process)


def ready(worker: Worker, timeout: float = 120) -> Worker:
    """Wait until readers can query the warehouse the worker creates as it starts."""
    try:
        wait_until(worker.warehouse_ready, timeout, "the worker to create its warehouse")
        worker.assert_alive()  # another process may have created it while this one failed
    except BaseException:
        worker.stop()  # a worker that never got ready is not left running
        raise
    return worker


def start_worker(env: dict[str, str], log: Path) -> Worker:
    return ready(launch_worker(env, log))


def read_dead_letters(env: dict[str, str], expected: int, timeout: float = 30) -> list[dict]:
    """The records of the dead-letter topic, once ``expected`` of them are there."""
    consumer = KafkaConsumer(
        env["CALLSTREAM_TOPIC_DEAD_LETTER"],
        bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=1000,
    )
    records: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for message in consumer:
                records.append(json.loads(message.value))
    finally:
        consumer.close()
    return records


def produce(
    env: dict[str, str], topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> None:
    """Send (key, value) records to a topic, acknowledged, in one flush (so one worker
    batch is likely to hold them all): how a test puts input past the first hop's checks."""
    producer = KafkaProducer(bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP"], acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def topic_values(env: dict[str, str], topic: str) -> list[bytes]:
    """Every value on a topic so far (tombstones left out)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=1500,
    )
    try:
        return [message.value for message in consumer if message.value is not None]
    finally:
        consumer.close()


def dead_letters_now(env: dict[str, str]) -> list[dict]:
    """The records of the dead-letter topic so far."""
    return [json.loads(v) for v in topic_values(env, env["CALLSTREAM_TOPIC_DEAD_LETTER"])]


def wait_for_dead_letters(
    worker: Worker, match: Callable[[dict], bool], expected: int, timeout: float = 60
) -> list[dict]:
    """The dead letters that ``match``, once there are ``expected`` of them."""
    found: list[dict] = []

    def enough() -> bool:
        nonlocal found
        worker.assert_alive()
        found = [letter for letter in dead_letters_now(worker.env) if match(letter)]
        return len(found) >= expected

    try:
        wait_until(enough, timeout, f"{expected} matching dead letters")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; found {found}. Worker log:\n{worker.tail(60)}") from None
    return found


def http_get(worker: Worker, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", int(worker.env["CALLSTREAM_WEB_PORT"]), 30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def metric_samples(worker: Worker) -> dict[str, list]:
    """Every sample of /metrics by name, parsed by prometheus-client."""
    status, text = http_get(worker, "/metrics")
    assert status == 200, text
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def assert_daily_facts_equal_a_recount(worker: Worker) -> None:
    """cbt_daily_facts, written batch by batch (deferred or not), equals a recount from the
    calls: one row per key, every value right."""
    key = "practice, local_date, time_band, indicator"
    stored = worker.query(f"SELECT {key}, value, incomplete FROM cbt_daily_facts ORDER BY ALL")
    recount = worker.query(
        f"SELECT {key}, count(*) FILTER (WHERE counts) AS value, "
        "count(*) FILTER (WHERE counts AND NOT complete) AS incomplete "
        f"FROM cbt_call_indicators GROUP BY ALL ORDER BY ALL"
    )
    assert stored.height > 0
    assert stored.to_dicts() == recount.to_dicts()
