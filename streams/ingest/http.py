"""HTTP ingest on the Faust web server: practices' phone systems POST canonical events.

Thin: the checks live in ``streams.ingest.body`` (body), ``streams.ingest.tokens`` (who) and
``streams.ingest.rate_limit`` (how often); this module orders them and answers. A request is
answered 202 only after every event is acknowledged by Kafka with acks=all (``topic.send``
returns the producer's delivery future, which is awaited). Nothing here logs a body, a
token or an event: the raw topic is the only place a caller's number may go.

Routes: ``POST /v1/practices/{ods}/events``, ``GET /health``, ``GET /openapi.yaml`` and
``GET /v1/openapi.json``. docs/http-api.md is the guide for suppliers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import yaml
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from faust.types import TopicT
from faust.web import Request, Response, View

from streams.core.redact import masked, masked_json
from streams.ingest.body import ErrorBody, InvalidEvents, MalformedBody, parse_body, validate_events
from streams.ingest.content_encoding import TooLarge, UnsupportedEncoding, decoded
from streams.ingest.producer import encode_event
from streams.ingest.rate_limit import RateLimiter
from streams.ingest.tokens import TokenError, TokenStore
from streams.settings import Settings, get_settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/practices/{ods}/events"
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
#: Longest a client may take to send its body (a stalled upload must not hold a connection).
BODY_TIMEOUT_S = 60.0
#: Longest a request waits for Kafka to acknowledge its events before answering 503: this,
#: and ``DELIVERY_S_PER_EVENT`` more for each event. One worker has Kafka acknowledge about
#: 1,500-1,800 events a second on 2 cores (bench/ingest_http_bench.py), so a body at the size
#: limit (some 50,000 small events) needs about 30 s: a fixed 30 s answered it 503 every time.
DELIVERY_TIMEOUT_S = 30.0
DELIVERY_S_PER_EVENT = 0.002
#: Longest /health waits for a broker's answer (twice this over all bootstrap servers).
HEALTH_TIMEOUT_S = 2.0
_READ_CHUNK = 64 * 1024


@dataclass
class Answer:
    """Status, JSON body and extra headers of a response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def _error(status: int, error: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, ErrorBody(error=error).model_dump(), headers)


class Ingest:
    """What the events view does, apart from speaking HTTP."""

    def __init__(self, raw: TopicT, settings: Settings) -> None:
        self.raw = raw
        self.settings = settings
        self.tokens = TokenStore.for_data_dir(settings.data_dir)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        #: Requests between their body's first byte and their answer (one event loop: a
        #: plain count is exact).
        self.in_flight = 0

    async def post_events(self, request: Any, ods: str) -> Answer:
        """Authenticate, limit, read, validate, produce: the first failure answers."""
        denied = self._authorise(request.headers.get("Authorization", ""), ods)
        if denied is not None:
            return denied
        most = self.settings.ingest_max_in_flight
        if self.in_flight >= most:
            log.info("ingest %s: busy, %d requests in flight (ingest_max_in_flight)", ods, most)
            return _error(
                503,
                f"this worker is handling {most} requests at once, its limit "
                "(CALLSTREAM_INGEST_MAX_IN_FLIGHT); nothing was accepted: resend the body in "
                "a few seconds",
                {"Retry-After": "5"},
            )
        self.in_flight += 1
        try:
            return await self._read_and_send(request, ods)
        finally:
            self.in_flight -= 1

    async def _read_and_send(self, request: Any, ods: str) -> Answer:
        limit = self.settings.max_body_bytes
        declared = request.content_length
        if declared is not None and declared > limit:
            return self._too_large(declared)
        try:
            body = await asyncio.wait_for(_read_bounded(request.content, limit), BODY_TIMEOUT_S)
        except TimeoutError:
            return _error(
                408, f"the body did not arrive within {BODY_TIMEOUT_S:.0f} s; send it again"
            )
        except (HttpProcessingError, RequestPayloadError) as exc:  # e.g. corrupt gzip
            return _error(
                400,
                f"the body cannot be decoded ({type(exc).__name__}); send it again, compressed "
                "as its Content-Encoding says, or uncompressed",
            )
        if body is None:
            return self._too_large(None)
        encoding = ",".join(request.headers.getall("Content-Encoding", []))
        try:
            # In a thread: a full body takes seconds of CPU, which would stall the agents.
            records = await asyncio.to_thread(_records, body, encoding, limit, ods)
        except UnsupportedEncoding as exc:
            return _error(415, str(exc))
        except TooLarge:
            return self._too_large(None)
        except MalformedBody as exc:
            return Answer(400, exc.body.model_dump())
        except InvalidEvents as exc:
            log.info("ingest %s: refused a body: %s", ods, exc.body.error)
            return Answer(422, exc.body.model_dump())
        try:
            await self._produce(records)
        except Exception as exc:  # any producer failure: the client must retry
            log.warning("ingest %s: Kafka did not acknowledge: %s", ods, type(exc).__name__)
            return _error(
                503,
                f"Kafka did not acknowledge the events ({type(exc).__name__}); none may be "
                "counted as accepted: resend the whole body (repeated event_ids are ignored)",
                {"Retry-After": "5"},
            )
        log.info("ingest %s: accepted %d events", ods, len(records))
        return Answer(202, {"accepted": len(records), "practice": ods})

    def _authorise(self, header: str, ods: str) -> Answer | None:
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="callstream"'}
        if scheme.lower() != "bearer" or not token.strip():
            return _error(
                401,
                "missing bearer token: send 'Authorization: Bearer <token>' with the token "
                "from `callstream tokens create --practice <ODS>`",
                challenge,
            )
        try:
            record = self.tokens.verify(token.strip())
        except TokenError as exc:
            log.error("ingest: token store unreadable: %s", exc)
            return _error(503, "the token store cannot be read; tell the callstream operator")
        if record is None:
            return _error(
                401, "token is unknown or revoked: ask the practice for a current token", challenge
            )
        if record.practice is None:
            return _error(
                403,
                f"this is a wallboard token of {record.owner} (read-only); pushing events needs "
                f"the practice's ingest token: `callstream tokens create --practice {ods}`",
            )
        if record.practice != ods:
            return _error(
                403,
                f"this token is for practice {record.practice}; it cannot push events for "
                f"'{ods}'. Use /v1/practices/{record.practice}/events or that practice's token",
            )
        if record.scope != "ingest":
            return _error(
                403,
                f"this is a {record.scope} token (read-only); pushing events needs an ingest "
                f"token: `callstream tokens create --practice {record.practice}`",
            )
        wait = self.limiter.acquire(record.id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return _error(
                429,
                f"more than {self.settings.rate_limit_per_minute} requests per minute with this "
                f"token; retry after {seconds} s, or send more events per request",
                {"Retry-After": str(seconds)},
            )
        return None

    def _too_large(self, declared: int | None) -> Answer:
        # Thousands separated: a 9-digit size would otherwise be masked as a phone number.
        size = f"{declared:,} bytes" if declared is not None else "the body"
        return _error(
            413,
            f"{size} is over the limit of {self.settings.max_body_bytes:,} bytes; "
            "split the events over several requests",
        )

    async def _produce(self, records: list[tuple[bytes, bytes]]) -> None:
        """Send every record and wait until Kafka has acknowledged each (acks=all)."""
        await asyncio.wait_for(self._send_all(records), delivery_timeout(len(records)))

    async def _send_all(self, records: list[tuple[bytes, bytes]]) -> None:
        # send() returns once the record is queued, with the delivery future to await.
        pending = [await self.raw.send(key=key, value=value) for key, value in records]
        await asyncio.gather(*pending)

    async def health(self, brokers: list[tuple[str, int]]) -> Answer:
        """200 if a broker answers a Kafka metadata request, else 503."""
        bootstrap = ",".join(f"{host}:{port}" for host, port in brokers)
        client = AIOKafkaClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(HEALTH_TIMEOUT_S * 1000)
        )
        try:
            await asyncio.wait_for(client.bootstrap(), HEALTH_TIMEOUT_S * 2)
        except (KafkaError, OSError, TimeoutError) as exc:
            return Answer(
                503,
                {
                    **ErrorBody(
                        error=f"Kafka broker not reachable at {bootstrap} ({type(exc).__name__})"
                    ).model_dump(),
                    "status": "unavailable",
                    "broker": "unreachable",
                },
            )
        finally:
            await client.close()
        return Answer(200, {"status": "ok", "broker": "reachable"})


def delivery_timeout(events: int) -> float:
    """How long a body of ``events`` may wait for Kafka before the answer is 503."""
    return DELIVERY_TIMEOUT_S + DELIVERY_S_PER_EVENT * events


def _records(raw: bytes, encoding: str, limit: int, ods: str) -> list[tuple[bytes, bytes]]:
    """The (key, value) of every event of a valid body, as ``callstream push`` writes them."""
    body = decoded(raw, encoding, limit)
    return [encode_event(event) for event in validate_events(parse_body(body), ods)]


async def _read_bounded(content: Any, limit: int) -> bytes | None:
    """The body, or None as soon as it is over ``limit`` bytes (never read unbounded)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await content.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)


#: Debug lines of Faust and aiokafka that print every produced value (raw numbers), by logger.
_VALUE_LINES = {"faust.topics": "send: ", "aiokafka.producer.producer": "Sending (key="}


class _NoEventValues(logging.Filter):
    """Drops a library's debug line that prints produced values."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


class _ClientFaultsBrief(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad Content-Length, a control character in a
    header, a line too long) as an ERROR with its traceback: a client's fault, answered 400,
    is one INFO line naming the problem, so an operator's ERRORs stay the worker's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "refused a request it could not parse: %s (%s)"
            # masked here: the masking log factory ran when the record was made, on the old
            # message (a request line may carry a number: ?caller=07700900123)
            first = (str(exc.message).splitlines() or [""])[0]
            record.args = (type(exc).__name__, masked(first)[:200])
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _brokers(app: faust.App) -> list[tuple[str, int]]:
    return [(url.host or "127.0.0.1", url.port or 9092) for url in app.conf.broker]


def register(app: faust.App, raw_topic: TopicT, settings: Settings | None = None) -> None:
    """Add the ingest, health and OpenAPI routes to ``app``, producing to ``raw_topic``."""
    ingest = Ingest(raw_topic, settings or get_settings())
    for name, prefix in _VALUE_LINES.items():
        logging.getLogger(name).addFilter(_NoEventValues(prefix))
    logging.getLogger("aiohttp.server").addFilter(_ClientFaultsBrief())
    spec_yaml = OPENAPI_FILE.read_text()
    spec_json = yaml.safe_load(spec_yaml)

    def respond(view: View, answer: Answer) -> Response:
        # An error may name what the client sent (a field, the URL's practice): masked.
        body = masked_json(answer.body) if answer.status >= 400 else answer.body
        return view.json(body, status=answer.status, headers=answer.headers)

    @app.page(EVENTS_PATH, name="ingest_events")
    class EventsView(View):
        async def post(self, request: Request, ods: str) -> Response:
            try:
                answer = await ingest.post_events(request, ods)
            except ConnectionResetError:  # the client went away mid-body: nothing produced
                log.info("ingest %s: the client closed the connection mid-body", masked(ods))
                answer = _error(400, "the connection closed before the whole body arrived")
            except Exception as exc:  # answer in JSON; log no request data
                log.error("ingest %s: internal error %s", masked(ods), type(exc).__name__)
                answer = _error(500, "internal error in callstream; resend the whole body later")
            return respond(self, answer)

    @app.page("/health", name="health")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            return respond(self, await ingest.health(_brokers(app)))

    @app.page("/openapi.yaml", name="openapi_yaml")
    class OpenApiYamlView(View):
        async def get(self, request: Request) -> Response:
            return self.text(spec_yaml, content_type="application/yaml")

    @app.page("/v1/openapi.json", name="openapi_json")
    class OpenApiJsonView(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(json.dumps(spec_json).encode(), content_type="application/json")
