"""The order of the ingest checks and the answer when Kafka fails, on a stand-in topic.

Pure unit tests of ``streams.ingest.http.Ingest``: the real-broker behaviour is in
test_ingest_http.py; here the topic is a stand-in so a failed delivery can be forced.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError
from multidict import CIMultiDict

from streams.ingest.http import Ingest
from streams.ingest.tokens import TokenStore
from streams.settings import Settings

P = "A81001"


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, n: int) -> bytes:
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


class Request:
    def __init__(self, body: bytes, token: str | None, content_length: int | None = -1) -> None:
        # aiohttp's headers: several of a name are kept (Content-Encoding is read so)
        self.headers = CIMultiDict({"Authorization": f"Bearer {token}"} if token else {})
        self.content_length = len(body) if content_length == -1 else content_length
        self.content = Body(body)


class Topic:
    """Records what was sent; deliveries fail when ``fail`` is set."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future:
        self.sent.append((key, value))
        future = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(KafkaTimeoutError())
        else:
            future.set_result(None)
        return future


def events(practice: str = P) -> bytes:
    return json.dumps(
        [
            {"practice": practice, "call_id": "c", "event_id": "1", "type": "call_started",
             "at": "2026-08-03T08:00:00Z", "caller": "withheld"},
            {"practice": practice, "call_id": "c", "event_id": "2", "type": "call_ended",
             "at": "2026-08-03T08:01:00Z"},
        ]
    ).encode()  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, str]:
    settings = Settings(data_dir=tmp_path, max_body_bytes=1000, rate_limit_per_minute=2)
    token, _ = TokenStore.for_data_dir(tmp_path).create(P)
    return settings, token


def answer(ingest: Ingest, request: Request, ods: str = P):
    return asyncio.run(ingest.post_events(request, ods))


def test_accepted_events_are_sent_keyed_by_call(setup):
    settings, token = setup
    topic = Topic()
    got = answer(Ingest(topic, settings), Request(events(), token))
    assert (got.status, got.body) == (202, {"accepted": 2, "practice": P})
    assert [key for key, _ in topic.sent] == [b"A81001:c", b"A81001:c"]
    assert json.loads(topic.sent[1][1]) == json.loads(events())[1]


def test_a_failed_delivery_is_503_asking_to_resend_the_whole_body(setup):
    settings, token = setup
    got = answer(Ingest(Topic(fail=True), settings), Request(events(), token))
    assert got.status == 503 and got.headers == {"Retry-After": "5"}
    assert "resend the whole body" in got.body["error"] and "KafkaTimeoutError" in got.body["error"]


def test_authentication_comes_before_size_and_content(setup):
    settings, token = setup
    topic = Topic()
    ingest = Ingest(topic, settings)
    assert answer(ingest, Request(b"x" * 5000, None)).status == 401
    assert answer(ingest, Request(b"{", token, content_length=5000)).status == 413
    assert answer(ingest, Request(b"x" * 5000, token, content_length=None)).status == 413
    assert topic.sent == []


def test_rate_is_counted_per_authenticated_request_only(setup):
    settings, token = setup
    ingest = Ingest(Topic(), settings)
    for _ in range(5):
        assert answer(ingest, Request(events(), "cst_000000000000_" + "x" * 43)).status == 401
    assert [answer(ingest, Request(events(), token)).status for _ in range(3)] == [202, 202, 429]


def test_health_is_503_naming_the_address_when_no_broker_answers(setup):
    settings, _ = setup
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    got = asyncio.run(Ingest(Topic(), settings).health([("127.0.0.1", port)]))
    assert got.status == 503
    assert got.body["error"].startswith(f"Kafka broker not reachable at 127.0.0.1:{port}")
    assert got.body["broker"] == "unreachable" and got.body["details"] == []


def test_a_stalled_upload_gets_408(setup, monkeypatch: pytest.MonkeyPatch):
    settings, token = setup

    class Stalled(Body):
        async def read(self, n: int) -> bytes:
            await asyncio.sleep(3600)
            return b""

    monkeypatch.setattr("streams.ingest.http.BODY_TIMEOUT_S", 0.05)
    request = Request(events(), token)
    request.content = Stalled(b"")
    got = answer(Ingest(Topic(), settings), request)
    assert got.status == 408 and "did not arrive within" in got.body["error"]


def test_past_its_limit_of_requests_in_flight_a_request_is_503_at_once(tmp_path: Path):
    """Many large bodies at once would each be held and parsed: past
    ingest_max_in_flight the next request is answered 503 with Retry-After, unread."""
    settings = Settings(data_dir=tmp_path, max_body_bytes=1000, ingest_max_in_flight=1)
    token, _ = TokenStore.for_data_dir(tmp_path).create(P)
    ingest = Ingest(Topic(), settings)

    class Held(Body):
        """A body whose bytes come once ``arrive`` is set."""

        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.arrive = asyncio.Event()

        async def read(self, n: int) -> bytes:
            await self.arrive.wait()
            return await super().read(n)

    async def three_requests() -> list[int]:
        slow = Request(events(), token)
        slow.content = Held(events())
        first = asyncio.create_task(ingest.post_events(slow, P))
        while ingest.in_flight == 0:  # the first is reading its body
            await asyncio.sleep(0)
        busy = await ingest.post_events(Request(events(), token), P)
        assert busy.headers == {"Retry-After": "5"}
        assert "CALLSTREAM_INGEST_MAX_IN_FLIGHT" in busy.body["error"]
        slow.content.arrive.set()
        done = await first
        after = await ingest.post_events(Request(events(), token), P)
        return [done.status, busy.status, after.status, ingest.in_flight]

    assert asyncio.run(three_requests()) == [202, 503, 202, 0]
