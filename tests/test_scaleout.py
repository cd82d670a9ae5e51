"""Past one machine: three workers on a 12-partition topic write one warehouse whose catalog is
PostgreSQL and whose files are in S3 (moto), each worker with its own data dir as if on its
own machine. One is killed (kill -9) mid-stream and restarted; an analyst queries with
`callstream sql` all along. The warehouse ends exactly equal to the simulator's truth."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_services import Lake
from pipeline_support import (
    Worker,
    assert_daily_facts_equal_a_recount,
    callstream,
    free_port,
    launch_worker,
    pipeline_env,
    read_truth,
    ready,
    wait_until,
)

from models.classified import ClassifiedCall

# About five minutes (measured at a load average of 10 on 2 cores); every wait is bounded.
pytestmark = [pytest.mark.kafka, pytest.mark.scaleout, pytest.mark.timeout(1800)]

PARTITIONS = 12
FULL_ROUND_DONE = "warehouse maintenance (full round) done by"  # the writer's log line
WORKERS = 3


class Analyst(threading.Thread):
    """Runs `callstream sql` over and over, as an analyst would, until stopped."""

    def __init__(self, env: dict[str, str], where: str) -> None:
        super().__init__(daemon=True)
        self.env, self.where = env, where
        self.answers: list[int] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        query = f"SELECT count(*) AS n FROM calls WHERE {self.where}"
        while not self.stop.is_set():
            done = callstream(self.env, "sql", "--format", "json", query)
            if done.returncode == 0:
                self.answers.append(json.loads(done.stdout)[0]["n"])
            else:
                self.failures.append(done.stderr)


@pytest.fixture
def started() -> Iterator[list[Worker]]:
    """Every worker the test starts; whatever happens, none is left running."""
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        worker.stop()


def test_three_workers_on_postgres_and_s3_equal_the_truth_through_a_kill_9(
    kafka_bootstrap: str, lake: Lake, tmp_path: Path, started: list[Worker]
) -> None:
    base = pipeline_env(
        kafka_bootstrap,
        tmp_path / "data-0",
        CALLSTREAM_TOPIC_PARTITIONS=str(PARTITIONS),
        CALLSTREAM_WORKER_SESSION_TIMEOUT_S="6",  # the killed worker's partitions move soon
        # Small batches: many commits from three writers at once, and time to kill mid-stream.
        CALLSTREAM_PIPELINE_BATCH_SIZE="100",
        CALLSTREAM_WRITER_BATCH_SIZE="300",
        CALLSTREAM_WRITER_BATCH_SECONDS="1",
        # Every call of the simulation ends; a call is closed early only if a worker sees none
        # of its events for this long, which a rebalance on a busy test machine can exceed.
        CALLSTREAM_CALL_TIMEOUT_S="120",
        CALLSTREAM_COMPACT_EVERY_S="60",
        **lake.new_warehouse(),
    )
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    simulated = callstream(
        base, "simulate", "--practices", "4", "--start", "2026-08-03", "--days", "1",
        "--out", str(events), "--truth", str(truth),
    )  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    expected, where = read_truth(truth)

    def env_of(n: int) -> dict[str, str]:  # one data dir per worker: its own machine
        return {
            **base,
            "CALLSTREAM_DATA_DIR": str(tmp_path / f"data-{n}"),
            "CALLSTREAM_WEB_PORT": str(free_port()),
        }

    workers = [launch_worker(env_of(n), tmp_path / f"worker{n}.log") for n in range(WORKERS)]
    started.extend(workers)
    for worker in workers:  # they start side by side, racing to create the warehouse
        ready(worker, timeout=300)
    analyst = Analyst(env_of(WORKERS), where)
    analyst.start()
    logs = [worker.log for worker in workers]
    try:
        began = time.monotonic()
        pusher = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "push", str(events)],
            env=base,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        victim = workers[1]
        wait_until(lambda: victim.count(where) >= len(expected) // 6, 900, "a sixth of the calls")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        at_kill = workers[0].count(where)
        assert at_kill < len(expected), "the push was over before the kill: nothing was tested"
        workers[1] = launch_worker(env_of(1), tmp_path / "worker1-restarted.log")
        started.append(workers[1])
        ready(workers[1], timeout=300)
        logs.append(workers[1].log)
        assert pusher.wait(timeout=120) == 0, pusher.stderr.read() if pusher.stderr else ""
        workers[0].wait_for_calls(len(expected), where, timeout=900)
        elapsed = time.monotonic() - began
        workers[0].wait_drained(timeout=120)
        wait_until(lambda: len(analyst.answers) >= 3, 120, "three answers of the analyst")
        wait_until(
            lambda: any(FULL_ROUND_DONE in log.read_text(errors="replace")
                        for log in logs),
            300,
            "a maintenance round by one of the workers",
        )  # fmt: skip
    finally:
        analyst.stop.set()
        analyst.join(timeout=120)

    fields = ", ".join(ClassifiedCall.model_fields)
    frame = workers[0].query(f"SELECT {fields} FROM calls WHERE {where}")
    got = {
        (r["practice"], r["call_id"]): ClassifiedCall.model_validate(r).model_dump()
        for r in frame.to_dicts()
    }
    assert len(frame) == len(expected)  # one row per call: nothing doubled
    assert got.keys() == expected.keys()  # nothing lost
    mismatches = [
        (key, {f: (row[f], got[key][f]) for f in row if row[f] != got[key][f]})
        for key, row in expected.items()
        if got[key] != row
    ]
    assert not mismatches, f"{len(mismatches)} calls differ (truth, warehouse): {mismatches[:8]}"
    assert_daily_facts_equal_a_recount(workers[0])

    assert not analyst.failures, analyst.failures[:3]
    assert analyst.answers == sorted(analyst.answers)  # never a step back
    assert [w.stop() for w in workers if w.process.poll() is None] == [0] * WORKERS

    texts = [log.read_text(errors="replace") for log in logs]
    for text in texts:
        for secret in lake.secrets():
            assert secret not in text
    redone = sum(text.count("warehouse commit redone") for text in texts)
    maintained = sum(text.count(FULL_ROUND_DONE) for text in texts)
    assert maintained >= 1, "no worker ever ran the warehouse maintenance"
    print(
        f"\n{len(expected)} calls, {WORKERS} workers, {PARTITIONS} partitions, "
        f"PostgreSQL + S3 (moto): all in the warehouse {elapsed:.1f} s after the push "
        f"began; kill -9 at {at_kill} calls; {redone} commits redone after a conflict; "
        f"{maintained} maintenance rounds; {len(analyst.answers)} analyst queries answered"
    )
