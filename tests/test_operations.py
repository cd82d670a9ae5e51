"""/metrics and /ready of real workers: the metrics parse with prometheus-client's own parser,
and the consumer lag rises while a worker is paused and falls once it resumes.

Two workers of one group: one is paused (SIGSTOP: it neither consumes nor answers) and the
other's /metrics shows the group's lag on the paused one's partitions. Each has its own data
dir, so its own warehouse: only the consuming matters here. The compose file's health checks
are checked against the routes the worker serves.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kafka import KafkaProducer
from live_support import events
from pipeline_support import (
    Worker,
    free_port,
    pipeline_env,
    start_worker,
    wait_until,
)
from pipeline_support import http_get as get
from pipeline_support import metric_samples as samples

from streams.settings import Settings

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parent.parent


def raw_lag(worker: Worker) -> dict[int, float]:
    topic = worker.env["CALLSTREAM_TOPIC_RAW_EVENTS"]
    return {
        int(s.labels["partition"]): s.value
        for s in samples(worker).get("callstream_consumer_lag", [])
        if s.labels["topic"] == topic
    }


@pytest.fixture
def workers(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    env = pipeline_env(kafka_bootstrap, tmp_path / "a")
    first = start_worker(env, tmp_path / "a.log")
    other = {
        **env,
        "CALLSTREAM_DATA_DIR": str(tmp_path / "b"),
        "CALLSTREAM_WEB_PORT": str(free_port()),
    }
    second = start_worker(other, tmp_path / "b.log")
    try:
        for worker in (first, second):
            worker.wait_for_web()
            wait_until(lambda w=worker: get(w, "/ready")[0] == 200, 120, "both workers ready")
        yield first, second
    finally:
        first.process.send_signal(signal.SIGCONT)
        first.stop()
        second.stop()


def push(env: dict[str, str], practice: str, calls: range) -> None:
    producer = KafkaProducer(bootstrap_servers=env["CALLSTREAM_KAFKA_BOOTSTRAP"])
    try:
        for n in calls:
            for event in events(practice, f"c{n}", ("call_started", 60), ("call_ended", 30)):
                key = f"{practice}:{event['call_id']}".encode()
                producer.send(env["CALLSTREAM_TOPIC_RAW_EVENTS"], json.dumps(event).encode(), key)
        producer.flush()
    finally:
        producer.close()


def test_metrics_parse_and_lag_rises_while_a_worker_is_paused_then_falls(workers) -> None:
    paused, watcher = workers
    status, body = get(watcher, "/ready")
    assert json.loads(body)["ready"] is True
    push(watcher.env, "M10001", range(0, 20))
    wait_until(lambda: sum(raw_lag(watcher).values()) == 0, 60, "no lag before the pause")

    paused.process.send_signal(signal.SIGSTOP)
    push(watcher.env, "M10001", range(20, 60))
    seen: list[dict] = []
    wait_until(
        lambda: seen.append(raw_lag(watcher)) or sum(seen[-1].values()) > 0, 30, "lag to rise"
    )
    before = sum(seen[-1].values())
    push(watcher.env, "M10001", range(60, 100))
    wait_until(
        lambda: seen.append(raw_lag(watcher)) or sum(seen[-1].values()) > before,
        30,
        f"lag to rise past {before}",
    )

    paused.process.send_signal(signal.SIGCONT)
    wait_until(
        lambda: seen.append(raw_lag(watcher)) or sum(seen[-1].values()) == 0, 60, "lag to fall"
    )
    print("raw-topic lag seen:", [sum(lag.values()) for lag in seen])

    found = samples(watcher)
    events_in = sum(s.value for s in found["callstream_events_total"])
    assert events_in > 0  # this worker's share of the 200 events
    assert found["callstream_warehouse_commit_seconds_count"][0].value > 0
    assert found["callstream_freshness_seconds"][0].value > 0
    assert "callstream_calls_in_state" in found and "callstream_dead_letters_total" not in found


def test_compose_health_checks_ask_routes_the_worker_serves() -> None:
    from streams.worker.app import create_app

    built = create_app(Settings(data_dir=ROOT / "test-artifacts" / "routes"), "127.0.0.1:1")
    routes = {r.resource.canonical for r in built.app.web.web_app.router.routes()}
    assert {"/health", "/ready", "/metrics"} <= routes
    worker = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    check = " ".join(worker["healthcheck"]["test"])
    port = worker["environment"]["CALLSTREAM_WEB_PORT"]
    assert f"http://127.0.0.1:{port}/ready" in check
