"""HTTP ingest against a real `callstream worker` on the real broker.

One worker serves the module (small body limit and rate so 413 and 429 are cheap to reach);
each test uses its own practice codes and tokens. Refused requests must produce nothing:
the raw topic is read back at the end of each test that checks it.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition
from pipeline_support import Worker, callstream, pipeline_env, wait_until

from models.events import CallEvent
from streams.ingest.http import OPENAPI_FILE
from streams.ingest.tokens import TokenStore

pytestmark = pytest.mark.kafka

MAX_BODY = 20_000
RATE = 5
NUMBER = "07700 900461"


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("ingest-http")
    env = pipeline_env(
        kafka_bootstrap,
        base / "data",
        CALLSTREAM_MAX_BODY_BYTES=str(MAX_BODY),
        CALLSTREAM_RATE_LIMIT_PER_MINUTE=str(RATE),
    )
    running = _start_debug_worker(env, base / "worker.log")
    wait_until(lambda: _up(running), 90, "the worker's web server")
    yield running
    code = running.stop()
    assert code == 0, f"worker did not stop cleanly on SIGTERM:\n{running.tail()}"


def _start_debug_worker(env: dict[str, str], log: Path) -> Worker:
    """`callstream worker` at debug level: the most it will ever log, for the privacy test."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "debug"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return Worker(env, log, process)


def _up(worker: Worker) -> bool:
    worker.assert_alive()
    try:
        return request(worker, "GET", "/health")[0] == 200
    except OSError:
        return False


@pytest.fixture
def token_for(worker: Worker) -> Callable[[str], str]:
    """A fresh token of a practice, created as the operator would, in the worker's data dir."""
    store = TokenStore.for_data_dir(Path(worker.env["CALLSTREAM_DATA_DIR"]))
    return lambda practice: store.create(practice)[0]


def request(
    worker: Worker,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(worker.env["CALLSTREAM_WEB_PORT"]), 30)
    try:
        payload = iter([body[i : i + 4096] for i in range(0, len(body), 4096)]) if chunked else body
        conn.request(method, path, body=payload, headers=headers or {}, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post(
    worker: Worker, practice: str, body: bytes, token: str | None, **kwargs
) -> tuple[int, dict[str, str], dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, response_headers, raw = request(
        worker, "POST", f"/v1/practices/{practice}/events", body, headers, **kwargs
    )
    return status, response_headers, json.loads(raw)


def call(practice: str, call_id: str, caller: str = NUMBER) -> list[dict]:
    """One answered call: 4 events."""
    nav = {"team": "reception", "role": "care_navigator"}
    base = {"practice": practice, "call_id": call_id}
    return [
        {**base, "event_id": f"{call_id}-1", "type": "call_started", "at": "2026-08-03T08:00:00Z",
         "caller": caller},
        {**base, "event_id": f"{call_id}-2", "type": "queue_joined", "at": "2026-08-03T08:00:05Z",
         "queue": "main"},
        {**base, "event_id": f"{call_id}-3", "type": "answered", "at": "2026-08-03T08:01:00Z",
         **nav},
        {**base, "event_id": f"{call_id}-4", "type": "call_ended", "at": "2026-08-03T08:04:00Z"},
    ]  # fmt: skip


def raw_records(worker: Worker, timeout: float = 60.0) -> list[tuple[str, dict]]:
    """Every (key, value) on the worker's raw topic so far: read up to the end offsets taken
    now (not "until the topic has been quiet for a while", which a slow machine fakes)."""
    topic = worker.env["CALLSTREAM_TOPIC_RAW_EVENTS"]
    consumer = KafkaConsumer(
        bootstrap_servers=worker.env["CALLSTREAM_KAFKA_BOOTSTRAP"],
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records: list[tuple[str, dict]] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in parts):
            assert time.monotonic() < deadline, (
                f"raw topic: read {len(records)} records in {timeout:.0f} s, end offsets {end}"
            )
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(m.key.decode(), json.loads(m.value)) for m in batch]
        return records
    finally:
        consumer.close()


def of_practice(worker: Worker, practice: str) -> list[tuple[str, dict]]:
    return [(k, v) for k, v in raw_records(worker) if v["practice"] == practice]


def test_accepted_events_are_in_kafka_before_202(worker, token_for):
    practice = "H10001"
    token = token_for(practice)
    array = call(practice, "c1") + call(practice, "c2", caller="withheld")
    status, _, body = post(worker, practice, json.dumps(array).encode(), token)
    assert (status, body) == (202, {"accepted": 8, "practice": practice})

    ndjson = "\n".join(json.dumps(e) for e in call(practice, "c3")) + "\n"
    status, _, body = post(worker, practice, ndjson.encode(), token)
    assert (status, body["accepted"]) == (202, 4)

    # Acknowledged before the answer: the events are readable at once, keyed practice:call_id.
    records = of_practice(worker, practice)
    sent = array + call(practice, "c3")
    assert sorted(k for k, _ in records) == sorted(f"{practice}:{e['call_id']}" for e in sent)
    assert {CallEvent.model_validate(v) for _, v in records} == {
        CallEvent.model_validate(e) for e in sent
    }


def test_accepted_events_reach_the_warehouse(worker, token_for):
    practice = "H10010"
    token = token_for(practice)
    body = call(practice, "w1") + call(practice, "w2", caller="withheld")
    assert post(worker, practice, json.dumps(body).encode(), token)[0] == 202
    worker.wait_for_calls(2, f"practice = '{practice}'")
    rows = worker.query(
        "SELECT call_id, outcome, talk_s, caller_key IS NULL AS withheld FROM calls "
        f"WHERE practice = '{practice}' ORDER BY call_id"
    ).to_dicts()
    assert rows == [
        {"call_id": "w1", "outcome": "answered", "talk_s": 180, "withheld": False},
        {"call_id": "w2", "outcome": "answered", "talk_s": 180, "withheld": True},
    ]


def test_missing_unknown_revoked_and_other_practice_tokens_are_refused(worker, token_for):
    practice, other = "H10002", "H10003"
    body = json.dumps(call(practice, "x")).encode()

    status, headers, error = post(worker, practice, body, None)
    assert status == 401 and "missing bearer token" in error["error"]
    assert headers["WWW-Authenticate"].startswith("Bearer")

    status, _, error = post(worker, practice, body, "cst_000000000000_" + "A" * 43)
    assert status == 401 and "unknown or revoked" in error["error"]

    created = callstream(worker.env, "tokens", "create", "--practice", practice)
    assert created.returncode == 0, created.stderr
    revocable = created.stdout.strip()
    token_id = revocable.split("_")[1]
    revoked = callstream(worker.env, "tokens", "revoke", "--practice", practice, token_id)
    assert revoked.returncode == 0, revoked.stderr
    status, _, error = post(worker, practice, body, revocable)
    assert status == 401 and "unknown or revoked" in error["error"]

    status, _, error = post(worker, practice, body, token_for(other))
    assert status == 403
    assert f"this token is for practice {other}" in error["error"] and error["details"] == []

    wallboard = callstream(
        worker.env, "tokens", "create", "--practice", practice, "--scope", "wallboard"
    )
    status, _, error = post(worker, practice, body, wallboard.stdout.strip())
    assert status == 403 and "wallboard token (read-only)" in error["error"]

    assert of_practice(worker, practice) == []


def test_malformed_bodies_get_400_naming_the_problem(worker, token_for):
    practice = "H10004"
    token = token_for(practice)
    status, _, error = post(worker, practice, b'[{"practice": "H10004",', token)
    assert status == 400 and error["error"].startswith("body is not valid JSON")

    ndjson = json.dumps(call(practice, "y")[0]) + "\n{not json}\n"
    status, _, error = post(worker, practice, ndjson.encode(), token)
    assert status == 400
    assert error["details"][0]["index"] == 1 and "line 2" in error["details"][0]["message"]

    status, _, error = post(worker, practice, b"  \n", token)
    assert status == 400 and "empty" in error["error"]
    assert of_practice(worker, practice) == []


def test_invalid_events_get_422_with_index_and_field_and_nothing_is_produced(worker, token_for):
    practice = "H10005"
    token = token_for(practice)
    events = call(practice, "z")
    del events[0]["caller"]
    events[2]["practice"] = "H10006"
    events[3]["at"] = "2026-08-03T08:04:00"  # no offset
    status, _, error = post(worker, practice, json.dumps(events).encode(), token)
    assert status == 422
    assert error["error"].startswith("3 of 4 events are invalid; nothing was accepted")
    assert [(d["index"], d["field"]) for d in error["details"]] == [
        (0, "caller"),
        (2, "practice"),
        (3, "at"),
    ]
    assert of_practice(worker, practice) == []


def test_bodies_over_the_limit_get_413_by_header_and_by_bytes_read(worker, token_for):
    practice = "H10007"
    token = token_for(practice)
    events = [e for i in range(60) for e in call(practice, f"big{i}")]
    body = json.dumps(events).encode()
    assert len(body) > MAX_BODY

    status, _, error = post(worker, practice, body, token)
    assert status == 413
    assert error["error"] == (
        f"{len(body):,} bytes is over the limit of {MAX_BODY:,} bytes; "
        "split the events over several requests"
    )

    status, _, error = post(worker, practice, body, token, chunked=True)
    assert status == 413 and error["error"].startswith("the body is over the limit")
    assert of_practice(worker, practice) == []


def test_more_requests_than_the_rate_get_429_with_retry_after(worker, token_for):
    practice = "H10008"
    token, fresh = token_for(practice), token_for(practice)
    body = json.dumps(call(practice, "r")).encode()
    answers = [post(worker, practice, body, token) for _ in range(RATE + 1)]
    assert [status for status, _, _ in answers] == [202] * RATE + [429]
    _, headers, error = answers[-1]
    assert int(headers["Retry-After"]) >= 1
    assert f"more than {RATE} requests per minute" in error["error"]
    # The limit is per token.
    assert post(worker, practice, body, fresh)[0] == 202


def test_health_and_openapi_are_served(worker):
    status, _, body = request(worker, "GET", "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok", "broker": "reachable"})
    status, _, body = request(worker, "GET", "/openapi.yaml")
    assert status == 200 and body.decode() == OPENAPI_FILE.read_text()
    status, _, body = request(worker, "GET", "/v1/openapi.json")
    assert status == 200 and json.loads(body) == yaml.safe_load(OPENAPI_FILE.read_text())


def test_worker_log_has_no_caller_numbers_or_tokens(worker, token_for):
    practice = "H10009"
    token = token_for(practice)
    assert post(worker, practice, json.dumps(call(practice, "l")).encode(), token)[0] == 202
    bad = call(practice, "m")
    bad[1]["queue"] = None
    assert post(worker, practice, json.dumps(bad).encode(), token)[0] == 422
    worker.wait_for_calls(1, f"practice = '{practice}'")  # the pipeline has had the events too
    log = worker.log.read_text(errors="replace")  # at debug level
    assert "ingest H10009: accepted 4 events" in log  # the log is being written
    assert NUMBER not in log and NUMBER.replace(" ", "") not in log
    assert token not in log
