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

import faust

from streams.core.pseudonymise import load_key
from streams.ingest.tokens import Level
from streams.settings import Settings
from streams.worker import alerts, heap, operations, pipeline, wallboard, writer
from streams.worker.fast_delivery import FastDeliveryConsumer
from streams.worker.live import CALLS_TABLE_NAME, Live, live_table, live_topic
from streams.worker.metrics import Metrics, Status
from streams.worker.topology import TABLE_NAME, CallStateValue, Pipeline, WarehouseNotOpen


def create_app(settings: Settings, bootstrap: str, *, with_ingest: bool = True) -> Pipeline:
    """The callstream Faust app for these settings, with every agent registered."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        # Faust's own pages (/router/, /table/..., stats, graph, metrics) answer anyone who
        # asks, without the ingest token, and show table keys: off.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        # A client that never finishes its headers is dropped after this (aiohttp closes
        # a connection that has sent no complete request within its keep-alive time).
        web_application_options={
            "handler_args": {
                "keepalive_timeout": settings.web_header_timeout_s,
                # Bodies are inflated by streams.ingest.content_encoding, which refuses a
                # gzip stream cut short (aiohttp's inflater read it as the events before the cut).
                "auto_decompress": False,
            }
        },
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        topic_disable_leader=True,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=settings.kafka_message_max_bytes,
        stream_recovery_delay=0.2,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        web_in_thread=False,
    )
    # Before anything creates the consumer: messages reach the streams without Faust's
    # per-message task race when they need not wait (streams.worker.fast_delivery).
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
        live=Live(
            live_topic(app, settings),
            live_table(app, settings),
            live_table(app, settings, CALLS_TABLE_NAME),
            settings,
        ),
        metrics=Metrics(),
        status=Status(),
    )
    pipeline.register(built)
    writer.register(built)
    built.live.register(app, settings)
    wallboard.register(app, built.live, settings, _members_reader(built))
    operations.register(built, bootstrap)
    alerts.register(built)
    heap.register(app, settings)
    if with_ingest:
        _register_ingest(built)
    return built


def _members_reader(built: Pipeline) -> wallboard.ReadMembers:
    """The practices of a PCN or ICB, read on the writer's warehouse thread."""

    async def read(level: Level, code: str) -> list[str]:
        if built.in_warehouse is None:
            raise WarehouseNotOpen("this worker has no warehouse writer")
        return await built.in_warehouse(lambda w: w.organisation_practices(level, code))

    return read


def _register_ingest(built: Pipeline) -> None:
    """HTTP ingest views, when this build has them."""
    try:
        ingest_http = importlib.import_module("streams.ingest.http")
    except ModuleNotFoundError as exc:
        if exc.name != "streams.ingest.http":
            raise
        return
    ingest_http.register(built.app, built.raw, built.settings)
