"""The OpenAPI document stays true to the code, and the ingest routes keep values out of logs."""

from __future__ import annotations

import asyncio
import logging
import typing

import faust
import pytest
import yaml

from models.events import ODS_PATTERN, REQUIRED_FOR, CallEvent, EventType
from streams.ingest import http as ingest_http
from streams.ingest.body import ErrorBody, ErrorDetail
from streams.settings import Settings

SPEC = yaml.safe_load(ingest_http.OPENAPI_FILE.read_text())
SCHEMAS = SPEC["components"]["schemas"]


def test_the_document_is_openapi_3_1_with_every_route_the_worker_serves():
    assert SPEC["openapi"].startswith("3.1")
    assert set(SPEC["paths"]) == {
        ingest_http.EVENTS_PATH,
        "/health",
        "/openapi.yaml",
        "/v1/openapi.json",
    }
    responses = SPEC["paths"][ingest_http.EVENTS_PATH]["post"]["responses"]
    assert set(responses) == {
        "202",
        "400",
        "401",
        "403",
        "408",
        "413",
        "415",
        "422",
        "429",
        "500",
        "503",
    }


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves():
    refs = _refs(SPEC)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in SCHEMAS


def test_the_event_schema_is_the_canonical_v1_contract():
    schema = SCHEMAS["CallEvent"]
    assert set(schema["properties"]) == set(CallEvent.model_fields)
    required = {n for n, f in CallEvent.model_fields.items() if f.is_required()}
    assert set(schema["required"]) == required
    assert schema["properties"]["type"]["enum"] == [t.value for t in EventType]
    assert schema["properties"]["practice"]["pattern"] == ODS_PATTERN
    for name in ("direction", "request_type", "target", "role", "outcome"):
        allowed = typing.get_args(typing.get_args(CallEvent.model_fields[name].annotation)[0])
        assert schema["properties"][name]["enum"] == [*allowed, None], name
    for event_type, fields in REQUIRED_FOR.items():
        for name in fields:
            assert event_type.value in schema["properties"][name]["description"], name


def test_the_error_schema_is_the_error_body():
    error = SCHEMAS["Error"]
    assert set(error["properties"]) == set(ErrorBody.model_fields)
    assert set(error["properties"]["details"]["items"]["properties"]) == set(
        ErrorDetail.model_fields
    )


def test_registering_drops_the_debug_lines_with_produced_values(
    tmp_path, caplog: pytest.LogCaptureFixture
):
    settings = Settings(data_dir=tmp_path)
    app = faust.App("ingest-log-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    raw = app.topic("raw", key_serializer="raw", value_serializer="raw")
    ingest_http.register(app, raw, settings)
    assert set(SPEC["paths"]) <= set(app.web.views)

    value = b'{"caller":"07700 900123"}'
    faust_log = logging.getLogger("faust.topics")
    aiokafka_log = logging.getLogger("aiokafka.producer.producer")
    caplog.set_level(logging.DEBUG)
    faust_log.debug("send: topic=%r k=%r v=%r", "raw", b"k", value)
    faust_log.debug("declaring topic %r", "raw")
    aiokafka_log.debug("Sending (key=%s value=%s) to %s", b"k", value, "tp")
    aiokafka_log.debug("Producer started")
    assert [r.getMessage() for r in caplog.records] == ["declaring topic 'raw'", "Producer started"]


def test_bounded_read_stops_past_the_limit():
    class Stream:
        def __init__(self, size: int) -> None:
            self.left = size
            self.read_bytes = 0

        async def read(self, n: int) -> bytes:
            chunk = b"x" * min(n, self.left)
            self.left -= len(chunk)
            self.read_bytes += len(chunk)
            return chunk

    small, huge = Stream(1000), Stream(10**9)
    assert asyncio.run(ingest_http._read_bounded(small, 1000)) == b"x" * 1000
    assert asyncio.run(ingest_http._read_bounded(huge, 1000)) is None
    assert huge.read_bytes <= 1000 + 64 * 1024
