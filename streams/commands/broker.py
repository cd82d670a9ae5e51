"""`callstream broker start|stop|status`: the local Apache Kafka broker, for machines
without a Kafka cluster or Docker. Its state lives under CALLSTREAM_DATA_DIR/broker."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from streams.devtools.broker import control as broker
from streams.settings import get_settings

NOT_RUNNING_EXIT = 3


@click.group(
    help="Start, stop or inspect the local Apache Kafka broker (one KRaft node on 127.0.0.1). "
    "The first start fetches Kafka with Maven into a cache; later starts need no network. "
    "Commands use it unless CALLSTREAM_KAFKA_BOOTSTRAP names another cluster."
)
def command() -> None:
    """The `broker` command group."""


@command.command(
    help="Start the broker (if not already running) and print its address, 127.0.0.1:PORT, "
    "on stdout once it answers. Needs Java 17+; the first start also needs Maven."
)
def start() -> None:
    """Start, wait until ready, print the bootstrap address alone on stdout."""
    console = Console(stderr=True)
    settings = get_settings()
    try:
        with console.status("starting the local Kafka broker…") as spinner:
            address = broker.start(settings, progress=lambda message: spinner.update(message))
    except broker.BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # e.g. a data or cache directory we may not write
        where = exc.filename or "a file"
        raise click.ClickException(f"cannot use {where}: {exc.strerror}") from exc
    console.print(f"Kafka broker running; log: {broker.status(settings).log_path}")
    if settings.kafka_bootstrap:
        console.print(
            f"Note: CALLSTREAM_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is set, so the other "
            "commands use that cluster, not this broker."
        )
    click.echo(address)


@command.command(help="Stop the broker cleanly; fails if none is running.")
def stop() -> None:
    """Stop the broker of this data dir."""
    console = Console(stderr=True)
    try:
        with console.status("stopping the local Kafka broker…"):
            broker.stop(get_settings())
    except broker.BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print("Kafka broker stopped.")


@command.command(
    help="Say whether the broker runs, its pid, address and log file. "
    f"Exit status 0 when running, {NOT_RUNNING_EXIT} when not."
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status(as_json: bool) -> None:
    """Report the broker's status."""
    current = broker.status(get_settings())
    if as_json:
        click.echo(current.model_dump_json())
    elif current.running:
        click.echo(f"running: pid {current.pid}, {current.bootstrap}, log {current.log_path}")
    else:
        click.echo(f"not running (data dir {current.data_dir})")
    if not current.running:
        sys.exit(NOT_RUNNING_EXIT)  # SystemExit: cli.main returns (drops) click's Exit codes
