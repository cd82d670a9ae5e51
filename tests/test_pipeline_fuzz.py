"""Fuzz through the real broker and worker (issue 11): mutated events over HTTP and straight
onto the raw topic. Afterwards the worker is still up, every event sent is in exactly one
place (a call in the warehouse, or the dead-letter topic: with a 3 s call timeout no call
stays open), and no phone number is anywhere after the raw topic.

Hypothesis makes the input (bounded, derandomized: the same examples every run); the
worker gets all of it, then the test waits for the counts to meet and checks they do not
overshoot once the worker has committed everything.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_support import (
    Worker,
    dead_letters_now,
    pipeline_env,
    produce,
    start_worker,
    topic_values,
    wait_until,
)

from streams.core.redact import SEPARATORS
from streams.ingest.tokens import TokenStore

pytestmark = pytest.mark.kafka

EXAMPLES = 30
PRACTICE = "F12345"
#: Ofcom's drama range: numbers that are never anyone's.
NUMBERS = [
    "07700 900{:03d}",
    "+44 7700 900{:03d}",
    "07700-900-{:03d}",
    "07700/900/{:03d}",
    "07700_900_{:03d}",
    "07700|900|{:03d}",
    "(07700) 900.{:03d}",
    "０７７００ ９００ {:03d}",
]
TEMPLATE = [
    ("call_started", 0, {"caller": "07700 900{n:03d}"}),
    ("ivr_option", 5, {"option": "1"}),
    ("queue_joined", 10, {"queue": "main"}),
    ("ringing", 20, {"team": "reception", "role": "care_navigator"}),
    ("answered", 40, {"team": "reception", "role": "care_navigator"}),
    ("transferred", 90, {"team": "results", "role": "nurse"}),
    ("callback_requested", 95, {}),
    ("call_ended", 120, {}),
    ("callback_made", 3600, {"outcome": "answered"}),
]
ODD_TIMES = ["2100-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
             "07700900124", "2026-08-03T07:30:00", "2026-08-03T13:30:00Z", "2026-08-03",
             "2026-08-03T07:30:00+14:00", "", "T"]  # fmt: skip
_ids = itertools.count()


def phone() -> st.SearchStrategy[str]:
    return st.builds(lambda f, n: f.format(n), st.sampled_from(NUMBERS), st.integers(0, 999))


def odd_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(),
        st.integers(min_value=10**19, max_value=10**40),
        st.floats(),
        st.none(),
        st.booleans(),
        st.text(max_size=20),
        st.text(st.characters(max_codepoint=0x3000), min_size=195, max_size=260),
        phone(),
        st.sampled_from(ODD_TIMES),
        st.lists(st.integers(), max_size=3),
        st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=2), max_leaves=60),
        st.dictionaries(phone(), st.integers(), max_size=2),
    )


@st.composite
def mutated_call(draw: st.DrawFn) -> tuple[str, list[dict]]:
    """(transport, events): one call from the template, some events changed."""
    call = f"z{next(_ids)}"
    if draw(st.booleans()):
        call = f"{call} {draw(phone())}"  # a number in the call id: valid, masked
    n = draw(st.integers(0, 999))
    kinds = draw(st.lists(st.sampled_from(range(len(TEMPLATE))), min_size=1, max_size=6))
    events = []
    for i, index in enumerate(sorted(set(kinds))):
        kind, offset, fields = TEMPLATE[index]
        minute, second = divmod(30 * 60 + offset, 60)
        event = {
            "practice": PRACTICE,
            "call_id": call,
            "event_id": f"{call}-{i}",
            "type": kind,
            "at": f"2026-08-03T{7 + minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
            **{k: v.format(n=n) for k, v in fields.items()},
        }
        if kind in ("ringing", "answered", "transferred") and draw(st.integers(0, 4)) == 0:
            event["team"] = draw(phone())  # a number typed as a team: valid, masked
        action = draw(st.sampled_from(["keep", "keep", "set", "drop", "add"]))
        name = draw(st.sampled_from(sorted(event)))
        if action == "set":
            value = draw(odd_value())
            if name == "event_id" and isinstance(value, str) and 0 < len(value) <= 150:
                value = f"{value} {event['event_id']}"  # still unique
            event[name] = value
        elif action == "drop":
            del event[name]
        elif action == "add":
            event[draw(st.one_of(phone(), st.text(max_size=8)))] = draw(odd_value())
        events.append(event)
    transports = ["http", "http", "raw", "raw", "raw-wrong-key", "raw-garbage", "raw-deep"]
    return draw(st.sampled_from(transports)), events


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("fuzz")
    running = start_worker(pipeline_env(kafka_bootstrap, base / "data"), base / "worker.log")
    running.wait_for_web()
    yield running
    code = running.stop()
    assert code == 0, f"worker did not stop cleanly on SIGTERM:\n{running.tail()}"


def test_mutated_events_stop_nothing_and_every_event_is_accounted_for(worker: Worker) -> None:
    token = TokenStore.for_data_dir(Path(worker.env["CALLSTREAM_DATA_DIR"])).create(PRACTICE)[0]
    port = int(worker.env["CALLSTREAM_WEB_PORT"])
    raw_topic = worker.env["CALLSTREAM_TOPIC_RAW_EVENTS"]
    sent = 0
    statuses: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(mutated_call(), min_size=1, max_size=3))
    def send(calls: list[tuple[str, list[dict]]]) -> None:
        nonlocal sent
        records: list[tuple[bytes | None, bytes | None]] = []
        for transport, events in calls:
            for event in events:
                body = json.dumps(event).encode()
                if transport == "http":
                    status, answer = _post(port, token, body)
                    statuses[status] = statuses.get(status, 0) + 1
                    assert status < 500, (status, answer, event)
                    sent += answer.get("accepted", 0) if status == 202 else 0
                    continue
                key = f"{event.get('practice')}:{event.get('call_id')}".encode()
                if transport == "raw-wrong-key":
                    key = b"F12345:" + str(event.get("call_id")).encode()[::-1]
                elif transport == "raw-garbage":
                    body = body[: len(body) // 2] + b"\xff\x00" + body[len(body) // 2 :]
                elif transport == "raw-deep":
                    body = b'{"a":' * 50_000 + body + b"}" * 50_000
                records.append((key, body))
        produce(worker.env, raw_topic, records)
        sent += len(records)
        worker.assert_alive()

    send()
    assert statuses.get(202) and statuses.get(422), statuses  # both kinds were exercised

    def accounted() -> tuple[int, int]:
        worker.assert_alive()
        stored = worker.query("SELECT coalesce(sum(events), 0) AS n FROM calls")["n"][0]
        dead = sum(letter["events"] for letter in dead_letters_now(worker.env))
        return int(stored), dead

    seen = (0, 0)

    def met() -> bool:
        nonlocal seen
        seen = accounted()
        return sum(seen) >= sent

    try:
        wait_until(met, 150, f"{sent} events in the warehouse or the dead-letter topic")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: (warehouse, dead) = {seen}\n{worker.tail(60)}") from None
    worker.wait_drained()
    stored, dead = accounted()
    assert (stored + dead, stored > 0, dead > 0) == (sent, True, True), (stored, dead, sent)
    assert _get(port, "/health") == 200
    _assert_no_phone_number_after_the_raw_topic(worker)


def _assert_no_phone_number_after_the_raw_topic(worker: Worker) -> None:
    env = worker.env
    places = {
        "warehouse": worker.query("SELECT * FROM calls").write_csv(),
        "classified": env["CALLSTREAM_TOPIC_CLASSIFIED"],
        "changelog": f"{env['CALLSTREAM_APP_ID']}-call-state-changelog",
        "dead letters": env["CALLSTREAM_TOPIC_DEAD_LETTER"],
        "log": worker.log.read_text(errors="replace"),
    }
    for where, source in places.items():
        text = source
        if where in ("classified", "changelog", "dead letters"):
            text = "\n".join(v.decode("utf-8", "replace") for v in topic_values(env, source))
            assert text, where
        digits = "".join(str(int(c)) if c.isdecimal() else c for c in text)
        assert "7700900" not in re.sub(f"[{SEPARATORS}]", "", digits), where


def _post(port: int, token: str, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, 30)
    try:
        conn.request(
            "POST",
            f"/v1/practices/{PRACTICE}/events",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, 10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
