"""`callstream classify FILE`: classify the calls in a file, no Kafka, JSON lines out.

Events are pseudonymised as they are read (the raw number is not kept), gathered per call
(``ClassifyRun``), then classified and sorted. Memory grows with the calls, not the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from models.classified import ClassifiedCall
from models.events import EventType, set_event_bounds
from streams.commands.params import format_option, require_format
from streams.core.assemble import (
    CallAssembly,
    CallSpan,
    OutsideCall,
    held_back_reason,
    set_aside_reason,
)
from streams.core.classify import classify_assembly
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import Rules
from streams.ingest.formats import LineResult
from streams.settings import get_settings


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@format_option()
@click.option("--practice", default=None, help="ODS code, for formats that do not carry it.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Practice routing rules YAML [default: CALLSTREAM_RULES_FILE, else built in].",
)
def command(file: str, fmt: str, practice: str | None, rules_file: Path | None) -> None:
    """Classify the calls in FILE ('-' for stdin) by NHS England's definitions.

    Writes one JSON line per call (sorted by start, practice, call id) to stdout. Invalid
    lines are listed on stderr with their line number and field; the other lines are still
    classified, and the exit status is 1. Calls without a call_ended are written with
    "complete": false. Callers are pseudonymised with CALLSTREAM_PSEUDONYMISATION_KEY.
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from streams.core.pseudonymise import load_key
    from streams.core.rules import load_rules
    from streams.ingest.formats import read_events

    require_format(fmt)
    settings = get_settings()
    set_event_bounds(settings.event_bounds)
    try:
        rules = load_rules(rules_file or settings.rules_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    secret = settings.pseudonymisation_key
    key = load_key(secret.get_secret_value() if secret else None, settings.data_dir)
    run = ClassifyRun(key, settings.call_span)
    console = Console(stderr=True)
    name = "stdin" if file == "-" else Path(file).name
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("classifying {task.description}: {task.completed} lines"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task(name)
            for parsed in read_events(file, fmt, practice, rules):
                for line, error in run.take(parsed):
                    click.echo(f"line {line}: {error}", err=True)
                if parsed.line % 5000 == 0:
                    progress.update(task, completed=parsed.line)
    except ValueError as exc:  # unreadable file, bad --practice, not UTF-8
        raise click.ClickException(str(exc)) from exc
    for line, error in run.let_go_held_back():
        click.echo(f"line {line}: {error}", err=True)
    classified = run.classified(rules)
    out = sys.stdout
    for call in classified:
        out.write(call.model_dump_json())
        out.write("\n")
    out.flush()
    orphans = run.orphans()
    for key_, count in orphans:
        click.echo(
            f"call {key_}: only callback_made events ({count}), no call to attach them to: "
            "not classified",
            err=True,
        )
    click.echo(run.summary(classified, len(orphans)), err=True)
    if run.invalid or orphans:
        sys.exit(1)


@dataclass
class ClassifyRun:
    """The state of one classify run: calls by key, counts of what was read."""

    key: bytes
    span: CallSpan | None = None
    calls: dict[str, CallAssembly] = field(default_factory=dict)
    #: The line each event kept came from, by call and event_id: an event the call sets
    #: aside later (or holds back to the end) is listed under its own line.
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    absorbed: int = 0
    invalid: int = 0

    def take(self, parsed: LineResult) -> list[tuple[int, str]]:
        """Add a parsed line's event; (line, reason) of each line found invalid (counted):
        this one, or earlier ones of its call that it sets aside."""
        event = parsed.event
        if event is None:
            self.invalid += 1
            return [(parsed.line, parsed.error or "invalid")]
        safe = pseudonymise(event, self.key)
        assembly = self.calls.get(safe.key)
        if assembly is None:
            assembly = self.calls[safe.key] = CallAssembly()
        absorbed = assembly.absorbed
        try:
            added = assembly.add(safe, self.span)
        except OutsideCall as exc:  # as the worker does: the event is not part of its call
            self.invalid += 1
            return [(parsed.line, str(exc))]
        self.events += 1
        if assembly.absorbed > absorbed:
            self.absorbed += 1
        elif not added:
            self.duplicates += 1
        else:
            self.lines.setdefault(safe.key, {})[safe.event_id] = parsed.line
        set_aside = assembly.take_set_aside()
        if not set_aside or self.span is None:
            return []
        # earlier lines' events, out of the call now that its call_started has come
        self.events -= len(set_aside)
        self.invalid += len(set_aside)
        reason = f"{set_aside_reason(1, self.span)}; its call_started is line {parsed.line}"
        return sorted((self._line_of(safe.key, e.event_id), reason) for e in set_aside)

    def _line_of(self, key: str, event_id: str) -> int:
        return self.lines.get(key, {}).get(event_id, 0)

    def let_go_held_back(self) -> list[tuple[int, str]]:
        """Take out the events calls still hold back at the end of the file (no
        ``call_started`` came to say whether they belong: ``CallAssembly.add``), counted as
        invalid lines, as the worker dead-letters them when it lets such a call go; (line,
        reason) of each, in line order."""
        found = []
        for key, assembly in self.calls.items():
            taken = assembly.take_held_back()
            if taken and self.span is not None:
                self.events -= len(taken)
                self.invalid += len(taken)
                reason = held_back_reason(1, self.span)
                found += [(self._line_of(key, e.event_id), reason) for e in taken]
        return sorted(found)

    def orphans(self) -> list[tuple[str, int]]:
        """Calls with nothing but ``callback_made`` events: reporting them would make up a
        call (the streaming worker dead-letters them), so they are listed instead."""
        return [(k, len(a)) for k, a in self.calls.items() if _orphan(a)]

    def classified(self, rules: Rules) -> list[ClassifiedCall]:
        """Every call but orphans, classified, by start time then practice and call id."""
        calls = [classify_assembly(a, rules) for a in self.calls.values() if not _orphan(a)]
        calls.sort(key=lambda c: (c.started_at, c.practice, c.call_id))
        return calls

    def summary(self, classified: list[ClassifiedCall], orphans: int) -> str:
        """One line for stderr: what was read and what came out."""
        complete = sum(1 for c in classified if c.complete)
        parts = [
            f"{len(classified)} calls ({complete} complete, {len(classified) - complete} "
            "incomplete)",
            f"{self.events} events read ({self.duplicates} repeated event_ids ignored)",
            f"{self.invalid} invalid lines",
        ]
        if self.absorbed:
            parts.append(
                f"{self.absorbed} later ringing/queue/answer events of calls already that long "
                "not kept (they change nothing)"
            )
        if orphans:
            parts.append(f"{orphans} calls with only callback_made events not classified")
        return ", ".join(parts)


def _orphan(assembly: CallAssembly) -> bool:
    return all(e.type is EventType.callback_made for e in assembly.events)
