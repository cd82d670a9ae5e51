"""`callstream worker`: run the streaming pipeline and the HTTP ingest in one Faust worker."""

from __future__ import annotations

import os

import click

from models.events import set_event_bounds
from streams.settings import get_settings


@click.command()
@click.option(
    "--loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much the worker logs (to stderr).",
)
@click.option("--web-port", type=int, default=None, help="Web port [default: CALLSTREAM_WEB_PORT].")
def command(loglevel: str, web_port: int | None) -> None:
    """Run the streaming pipeline (Faust worker) and the HTTP ingest until stopped.

    Consumes raw call events, classifies each call and writes it to the warehouse.
    Stops cleanly on Ctrl-C or SIGTERM: the batch being written is finished and only then
    are Kafka offsets committed.
    """
    import faust

    from streams.devtools.broker.control import resolve_bootstrap
    from streams.ingest.producer import ProducerError, ensure_topics
    from streams.warehouse.store import Warehouse
    from streams.worker.app import create_app

    settings = get_settings()
    if web_port is not None:
        settings = settings.model_copy(update={"web_port": web_port})
    set_event_bounds(settings.event_bounds)
    # Files this process makes (warehouse, Faust state) are its own: 0600, folders 0700.
    os.umask(0o077)
    try:
        bootstrap = resolve_bootstrap(settings)
    except Exception as exc:
        raise click.ClickException(f"no Kafka broker to use: {exc}") from exc
    try:
        # Before the consumer subscribes: a topic created later is only seen minutes later.
        ensure_topics(
            bootstrap,
            {
                name: settings.topic_partitions
                for name in (
                    settings.topic_raw_events,
                    settings.topic_classified,
                    settings.topic_dead_letter,
                    settings.topic_live,
                )
            },
        )
    except ProducerError as exc:
        raise click.ClickException(str(exc)) from exc
    try:  # fail here, in one line, rather than inside the running worker
        Warehouse.open(settings).close()
        for private in (settings.data_dir, settings.warehouse_dir):
            private.chmod(0o700)  # made before umask was set, by an older version
    except Exception as exc:
        raise click.ClickException(f"cannot open the warehouse: {exc}") from exc
    built = create_app(settings, bootstrap)
    worker = faust.Worker(built.app, loglevel=loglevel)
    # Faust's spinner turns the root logger to DEBUG at --loglevel warning/error, so every
    # library debug line becomes a record (about 5% of the worker's CPU): no spinner.
    worker.spinner = None
    worker.execute_from_commandline()
