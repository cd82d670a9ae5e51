"""A Faust worker with only the raw topic and the HTTP ingest views, for the ingest tests.

Used while the full `callstream worker` cannot start in this checkout; it produces with the
same settings (acks=all) and the same ``streams.ingest_http.register`` as the real worker.
Run as ``python tests/ingest_worker.py`` with the CALLSTREAM_ environment.
"""

from __future__ import annotations

import faust

from streams.ingest_http import register
from streams.producer import ensure_topics
from streams.settings import get_settings


def main() -> None:
    settings = get_settings()
    bootstrap = settings.kafka_bootstrap
    assert bootstrap, "CALLSTREAM_KAFKA_BOOTSTRAP must be set"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_topics(bootstrap, {settings.topic_raw_events: settings.topic_partitions})
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_port=settings.web_port,
        topic_replication_factor=1,
        producer_acks=-1,
        web_in_thread=False,
    )
    raw = app.topic(
        settings.topic_raw_events,
        partitions=settings.topic_partitions,
        key_serializer="raw",
        value_serializer="raw",
    )
    register(app, raw, settings)
    faust.Worker(app, loglevel="info").execute_from_commandline()


if __name__ == "__main__":
    main()
