"""`callstream push FILE`: send a file of call events to the raw-events topic."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from models.events import set_event_bounds
from streams.commands.params import format_option, require_format
from streams.ingest.formats import check_practice
from streams.settings import get_settings


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@format_option()
@click.option("--practice", default=None, help="ODS code, for formats that do not carry it.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where rejected lines go, with reasons [default: FILE.rejects.jsonl].",
)
def command(file: Path, fmt: str, practice: str | None, rejects: Path | None) -> None:
    """Send a file of call events to Kafka (idempotent, acks=all, batched).

    Every line is validated first; valid events are sent, keyed by practice and call id,
    and rejected lines are listed with their reasons in the rejects file. Exits non-zero
    when any line was rejected (the valid ones are sent regardless).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streams.core.rules import load_rules
    from streams.devtools.broker.control import resolve_bootstrap
    from streams.ingest.formats import read_events
    from streams.ingest.producer import EventProducer, ProducerError, ensure_topics

    # kafka-python warns when a large send batch keeps its I/O loop busy: expected here.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    settings = get_settings()
    set_event_bounds(settings.event_bounds)
    # Checked before Kafka: a typo is named at once, not after a broker has been found.
    require_format(fmt)
    try:
        check_practice(practice)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    ours = file.with_name(file.name + ".rejects.jsonl")
    rejects = rejects or ours
    if rejects.exists() and rejects.resolve() == file.resolve():
        raise click.ClickException(
            f"--rejects {rejects} is the file being pushed: name another file for the rejects"
        )
    if not rejects.parent.is_dir():
        raise click.ClickException(f"--rejects {rejects}: its folder does not exist")
    # Written beside and put in place at the end: an existing file is only ever replaced by
    # this run's rejects, never emptied or removed by a run that had none.
    partial = rejects.with_name(f".{rejects.name}.partial")
    console = Console(stderr=True)
    try:
        bootstrap = resolve_bootstrap(settings)
    except Exception as exc:
        raise click.ClickException(f"no Kafka broker to use: {exc}") from exc
    total = _count_lines(file)
    rejected, finished = 0, False
    try:
        rules = load_rules(settings.rules_file)  # vendor formats map IVR options with them
        ensure_topics(bootstrap, {settings.topic_raw_events: settings.topic_partitions})
        with (
            EventProducer(bootstrap, settings.topic_raw_events) as producer,
            partial.open("w", encoding="utf-8") as rejects_out,
            Progress(
                TextColumn("pushing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task(file.name, total=total)
            for parsed in read_events(file, fmt, practice, rules):
                if parsed.event is not None:
                    producer.send(parsed.event)
                else:
                    rejected += 1
                    rejects_out.write(
                        json.dumps({"line": parsed.line, "reason": parsed.error}) + "\n"
                    )
                progress.update(task, completed=parsed.line)
            producer.flush()
            sent = producer.sent
        finished = True
    except ProducerError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:  # unknown format, unreadable file
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            f"--rejects {rejects}: cannot write it ({exc.strerror})"
        ) from exc
    finally:
        if not (finished and rejected):
            partial.unlink(missing_ok=True)
    if rejected:
        partial.replace(rejects)
    elif rejects == ours:
        ours.unlink(missing_ok=True)  # the last run's rejects of this file: now none
    click.echo(f"{file.name}: {sent} events sent, {rejected} rejected")
    if rejected:
        raise click.ClickException(f"{rejected} line(s) rejected: reasons in {rejects}")


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
