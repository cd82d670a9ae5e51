"""Events per second through one `callstream worker` into the warehouse, against a baseline.

Baseline (same run, same broker, same events): kafka-python producing the events and a
plain kafka-python consumer reading and JSON-decoding them, i.e. the cost of Kafka alone.
Pipeline: the events are produced while a worker (subprocess) runs; the clock stops when
the warehouse, read-only from this process, holds every call. The worker's own CPU time
over that span is reported too, beside the plain consumer's (this process's CPU time while it
reads): unlike wall time, other work on the machine hardly moves it. Both ratios are printed.
Usage:

    python bench/pipeline_bench.py [--calls 20000]   # 5 events per call
    python bench/pipeline_bench.py --profile /tmp/worker.prof   # worker under cProfile
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from kafka import KafkaConsumer
from rich.console import Console
from rich.table import Table

from models.events import CallEvent
from streams.ingest.producer import EventProducer, encode_event, ensure_topics
from streams.settings import Settings, get_settings

console = Console()


def make_events(calls: int, practice_count: int = 50) -> list[CallEvent]:
    """Answered calls of 5 events each, spread over a morning, in per-call order."""
    start = datetime(2026, 8, 3, 7, 0, tzinfo=UTC)
    nav = {"team": "reception", "role": "care_navigator"}
    events = []
    for i in range(calls):
        practice, call_id, t = f"B{i % practice_count:05d}", f"bench-{i}", start
        rows = [
            ("call_started", 0, {"caller": f"07700 9{i % 100000:05d}"}),
            ("ivr_option", 8, {"option": "1", "request_type": "appointments"}),
            ("queue_joined", 15, {"queue": "main"}),
            ("answered", 15 + i % 400, nav),
            ("call_ended", 200 + i % 400, {}),
        ]
        for n, (type_, offset, extra) in enumerate(rows):
            events.append(
                CallEvent.model_validate(
                    {
                        "practice": practice,
                        "call_id": call_id,
                        "event_id": f"{call_id}-{n}",
                        "type": type_,
                        "at": t + timedelta(seconds=i * 2 + offset),
                        **extra,
                    }
                )
            )
    return events


def baseline(bootstrap: str, payloads: list[tuple[bytes, bytes]], partitions: int) -> tuple:
    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: partitions})
    started = time.perf_counter()
    with EventProducer(bootstrap, topic) as producer:
        for key, value in payloads:
            producer.send_encoded(key, value)
        producer.flush()
    produced = time.perf_counter() - started
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"{topic}-reader",
        consumer_timeout_ms=5000,
    )
    seen, started, cpu_before = 0, time.perf_counter(), time.process_time()
    for message in consumer:
        json.loads(message.value)
        seen += 1
        if seen == len(payloads):
            break
    consumed = time.perf_counter() - started
    consumed_cpu = time.process_time() - cpu_before
    consumer.close()
    return produced, consumed, consumed_cpu


def _calls_in(settings: Settings) -> int:
    from streams.warehouse.store import Warehouse

    try:
        warehouse = Warehouse.open(settings, read_only=True)
    except Exception:  # not created until the worker's first commit
        return 0
    try:
        return int(warehouse.query("SELECT count(*) AS n FROM calls")["n"][0])
    except Exception:  # views not created yet: the worker is starting
        return 0
    finally:
        warehouse.close()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pipeline(
    bootstrap: str,
    payloads: list,
    calls: int,
    partitions: int,
    work: Path,
    profile: Path | None = None,
) -> tuple:
    tag = uuid.uuid4().hex[:8]
    data_dir = work / "data"
    env = {
        **os.environ,
        "CALLSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "CALLSTREAM_DATA_DIR": str(data_dir),
        "CALLSTREAM_PSEUDONYMISATION_KEY": "bench",
        "CALLSTREAM_APP_ID": f"bench-{tag}",
        "CALLSTREAM_TOPIC_RAW_EVENTS": f"bench-{tag}.raw",
        "CALLSTREAM_TOPIC_CLASSIFIED": f"bench-{tag}.classified",
        "CALLSTREAM_TOPIC_DEAD_LETTER": f"bench-{tag}.dead",
        "CALLSTREAM_TOPIC_LIVE": f"bench-{tag}.live",
        "CALLSTREAM_TOPIC_PARTITIONS": str(partitions),
        "CALLSTREAM_WEB_PORT": str(20000 + os.getpid() % 10000),
    }
    settings = Settings(data_dir=data_dir)
    log = (work / "worker.log").open("wb")
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    worker = subprocess.Popen(
        [sys.executable, *profiler, "-m", "streams.cli", "worker", "--loglevel", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        raw = env["CALLSTREAM_TOPIC_RAW_EVENTS"]
        ensure_topics(bootstrap, {raw: partitions})
        with EventProducer(bootstrap, raw) as producer:
            # Warm-up: one call through, so start-up is not measured.
            for key, value in payloads[:5]:
                producer.send_encoded(key, value)
            producer.flush()
            _wait(lambda: _calls_in(settings) >= 1, worker, 120)
            started, cpu_before = time.perf_counter(), _cpu_s(worker.pid)
            for key, value in payloads[5:]:
                producer.send_encoded(key, value)
            producer.flush()
        produced = time.perf_counter() - started
        _wait(lambda: _calls_in(settings) >= calls, worker, 1800)
        return produced, time.perf_counter() - started, _cpu_s(worker.pid) - cpu_before
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()


def _wait(done, worker: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if worker.poll() is not None:
            raise click.ClickException(f"the worker exited ({worker.returncode})")
        if time.monotonic() > deadline:
            raise click.ClickException("timed out waiting for the warehouse")
        time.sleep(1.0)  # each look opens the lake: do not steal the worker's CPU


@click.command()
@click.option("--calls", default=20_000, show_default=True, help="Calls (5 events each).")
@click.option("--partitions", default=4, show_default=True, help="Partitions of the topics.")
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run the worker under cProfile and write its profile here (slows it down).",
)
def main(calls: int, partitions: int, profile: Path | None) -> None:
    """Measure the pipeline against raw Kafka on the local (or configured) broker."""
    from streams.devtools.broker.control import resolve_bootstrap

    bootstrap = resolve_bootstrap(get_settings())
    payloads = [encode_event(e) for e in make_events(calls)]
    n = len(payloads)
    console.print(f"{calls} calls, {n} events, broker {bootstrap}, {partitions} partitions")
    produce_s, consume_s, consume_cpu_s = baseline(bootstrap, payloads, partitions)
    with tempfile.TemporaryDirectory(prefix="callstream-bench-") as work:
        push_s, total_s, cpu_s = pipeline(
            bootstrap, payloads, calls, partitions, Path(work), profile
        )
    table = Table(title="events per second")
    for column in ("measure", "seconds", "events/s"):
        table.add_column(column, justify="right")
    rows = [
        ("baseline: kafka-python produce", produce_s, n),
        ("baseline: kafka-python consume + json", consume_s, n),
        ("pipeline: produce (worker running)", push_s, n - 5),
        ("pipeline: produce -> every call in the warehouse", total_s, n - 5),
    ]
    for label, seconds, count in rows:
        table.add_row(label, f"{seconds:.2f}", f"{count / seconds:,.0f}")
    console.print(table)
    wall_ratio = ((n - 5) / total_s) / (n / consume_s)
    console.print(f"pipeline / plain consume, wall clock: {wall_ratio:.2f}")
    if cpu_s and consume_cpu_s:
        # CPU seconds per event hardly move with other work on the machine; wall time does.
        cpu_ratio = ((n - 5) / cpu_s) / (n / consume_cpu_s)
        console.print(
            f"CPU: worker {cpu_s:.1f} s ({(n - 5) / cpu_s:,.0f} events per CPU second), "
            f"plain consumer {consume_cpu_s:.1f} s ({n / consume_cpu_s:,.0f} per CPU second); "
            f"pipeline / plain consume per CPU second: {cpu_ratio:.2f}"
        )


if __name__ == "__main__":
    main()
