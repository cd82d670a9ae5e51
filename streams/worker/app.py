"""The Faust application: its topics, its call-state table, and the agents wired to them.

Built by a function, not at import time, so each worker (and each test) takes its
broker, topic names and app id from its own ``Settings``. Data flow (design.md):

    raw events --(pipeline agent: normalise + assemble + classify, state in a table)-->
    classified calls --(writer agent: batches into the warehouse)--> DuckLake
    anything unusable --> dead-letter topic

One agent does everything between raw and classified, so an event costs one topic read
and one changelog write, not a hop per step.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import faust
from faust.serializers import codecs
from faust.types import TopicT

from streams.call_state import CallState
from streams.fast_delivery import FastDeliveryConsumer
from streams.pseudonymise import load_key
from streams.settings import Settings

CALL_STATE_CODEC = "callstream-call-state"
TABLE_NAME = "call-state"


class _CallStateCodec(codecs.Codec):
    """Serialises the table's values for its changelog (the table itself holds objects)."""

    def _dumps(self, obj: CallState) -> bytes:
        return obj.to_bytes()

    def _loads(self, s: bytes) -> CallState | None:
        return CallState.from_bytes(s) if s else None  # None: a deleted call (tombstone)


codecs.register(CALL_STATE_CODEC, _CallStateCodec())


class CallStateValue:
    """The table's value type as Faust sees it: our codec for the changelog, both ways.

    Faust takes a table's changelog serializer from ``value_type._options.serializer`` and
    finishes decoding with ``value_type.from_data``; the codec already made the object.
    """

    class _options:  # noqa: N801 - the attribute name Faust looks up
        serializer = CALL_STATE_CODEC

    @classmethod
    def from_data(cls, data: CallState, preferred_type: object = None) -> CallState:
        return data


@dataclass
class Pipeline:
    """The app and what its agents share."""

    app: faust.App
    settings: Settings
    raw: TopicT
    classified: TopicT
    dead_letter: TopicT
    calls: faust.Table
    pseudonym_key: bytes  # HMAC key for callers (and for redacting dead letters)


def create_app(settings: Settings, bootstrap: str, *, with_ingest: bool = True) -> Pipeline:
    """The callstream Faust app for these settings, with every agent registered."""
    from streams import pipeline, writer

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        topic_disable_leader=True,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        stream_recovery_delay=0.2,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        web_in_thread=False,
    )
    # Before anything creates the consumer: messages reach the streams without Faust's
    # per-message task race when they need not wait (streams.fast_delivery).
    app.transport.Consumer = FastDeliveryConsumer
    raw_kwargs = {"key_serializer": "raw", "value_serializer": "raw"}
    partitions = settings.topic_partitions
    calls = app.Table(
        TABLE_NAME,
        default=None,
        partitions=partitions,
        key_type=bytes,  # practice:call_id, as on the raw topic
        value_type=CallStateValue,
    )
    built = Pipeline(
        app=app,
        settings=settings,
        raw=app.topic(settings.topic_raw_events, partitions=partitions, **raw_kwargs),
        classified=app.topic(settings.topic_classified, partitions=partitions, **raw_kwargs),
        dead_letter=app.topic(settings.topic_dead_letter, partitions=partitions, **raw_kwargs),
        calls=calls,
        pseudonym_key=load_key(
            secret.get_secret_value() if (secret := settings.pseudonymisation_key) else None,
            settings.data_dir,
        ),
    )
    pipeline.register(built)
    writer.register(built)
    if with_ingest:
        _register_ingest(built)
    return built


def _register_ingest(built: Pipeline) -> None:
    """HTTP ingest views, when this build has them."""
    try:
        ingest_http = importlib.import_module("streams.ingest_http")
    except ModuleNotFoundError as exc:
        if exc.name != "streams.ingest_http":
            raise
        return
    ingest_http.register(built.app, built.raw, built.settings)
