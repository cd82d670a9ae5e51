"""`callstream simulate`: realistic call events for N practices, and the truth they mean."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import click

from streams.commands.params import Share
from streams.settings import get_settings


@click.command()
@click.option("--practices", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First day (YYYY-MM-DD, local date in England).",
)
@click.option("--days", type=click.IntRange(1, 400), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same output.")
@click.option(
    "--out",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Events file (JSON lines of canonical events); '-' for stdout.",
)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the classified call each simulated call is meant to be (JSON lines).",
)
@click.option(
    "--staffing",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write how many people answered the phones in each quarter hour (JSON lines: "
    "practice, local_date, slot_start, staff), the truth for `callstream staffing`.",
)
@click.option(
    "--list-sizes",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the practices' list sizes (gp-reg-pat-prac-all.csv form) for "
    "`callstream reference load`.",
)
@click.option(
    "--reference-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write where the practices sit in the NHS (names, PCNs, ICBs, regions, list "
    "sizes) as NHS England's reference files (epraccur, gp-reg-pat-prac-map.csv, "
    "gp-reg-pat-prac-all.csv) into this directory, for `callstream reference load`.",
)
@click.option(
    "--duplicate-rate",
    type=Share(),
    default=0.01,
    show_default=True,
    help="Share of events sent twice (same event_id).",
)
@click.option(
    "--shuffle-rate",
    type=Share(),
    default=0.01,
    show_default=True,
    help="Share of events that arrive late, out of order.",
)
@click.option(
    "--incomplete-rate",
    type=Share(),
    default=0.0,
    show_default=True,
    help="Share of calls whose call_ended never arrives.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Practice routing rules YAML [default: CALLSTREAM_RULES_FILE, else built in].",
)
def command(
    practices: int,
    start: datetime,
    days: int,
    seed: int,
    out: Path,
    truth: Path | None,
    staffing: Path | None,
    list_sizes: Path | None,
    reference_dir: Path | None,
    duplicate_rate: float,
    shuffle_rate: float,
    incomplete_rate: float,
    rules_file: Path | None,
) -> None:
    """Generate realistic call events for N practices over a date range.

    Volumes, the weekday and intraday profile (the 8am scramble), the outcome mix and talk
    durations follow NHS England's August 2026 figures; practices differ like the
    published spread. Numbers are Ofcom drama numbers (nobody's). With --truth, each
    call's intended classification is written too, pseudonymised with the same key as
    `callstream classify` (CALLSTREAM_PSEUDONYMISATION_KEY), so the two can be compared.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streams.core.pseudonymise import load_key
    from streams.core.rules import load_rules
    from streams.devtools.simulate import (
        SimulationConfig,
        event_stream,
        list_sizes_csv,
        make_practices,
        simulate_days,
    )
    from streams.devtools.simulate_profile import load_profile
    from streams.devtools.simulate_reference import write_reference_files

    _distinct_outputs(out=out, truth=truth, staffing=staffing, list_sizes=list_sizes)
    try:
        start + timedelta(days=days)
    except OverflowError:
        raise click.BadParameter(
            "the days simulated run past the year 9999", param_hint="--start"
        ) from None
    settings = get_settings()
    try:
        rules = load_rules(rules_file or settings.rules_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    secret = settings.pseudonymisation_key
    config = SimulationConfig(
        practices=practices,
        start=start.date(),
        days=days,
        seed=seed,
        duplicate_rate=duplicate_rate,
        shuffle_rate=shuffle_rate,
        incomplete_rate=incomplete_rate,
        key=load_key(secret.get_secret_value() if secret else None, settings.data_dir),
    )
    console = Console(stderr=True)
    counts = {"calls": 0, "events": 0}
    extract = config.start.replace(day=1)  # NHS extracts are dated the 1st
    try:
        if list_sizes is not None:
            list_sizes.parent.mkdir(parents=True, exist_ok=True)
            list_sizes.write_text(
                list_sizes_csv(make_practices(config, load_profile()), extract), encoding="utf-8"
            )
        if reference_dir is not None:
            write_reference_files(make_practices(config, load_profile()), extract, reference_dir)
        with ExitStack() as stack:
            events_out = _open(stack, out)
            truth_out = _open(stack, truth) if truth is not None else None
            staffing_out = _open(stack, staffing) if staffing is not None else None
            progress = stack.enter_context(
                Progress(
                    TextColumn("simulating days"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=console,
                    transient=True,
                    disable=days * practices < 20,
                )
            )
            task = progress.add_task("days", total=days)

            def calls():  # counts calls, writes the truths and advances the bar a day at a time
                for day in simulate_days(config, rules):
                    progress.update(task, completed=(day.day - config.start).days)
                    if staffing_out is not None:
                        staffing_out.writelines(q.model_dump_json() + "\n" for q in day.staffing)
                    for call in day.calls:
                        counts["calls"] += 1
                        if truth_out is not None:
                            truth_out.write(call.truth.model_dump_json() + "\n")
                        yield call

            for event in event_stream(calls(), config):
                events_out.write(json.dumps(event) + "\n")
                counts["events"] += 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise  # the reader stopped (`| head`): click exits 1 quietly, as for any command
        where = exc.filename if exc.filename is not None else "to standard output"
        raise click.ClickException(f"cannot write {where}: {exc.strerror}") from exc
    console.print(
        f"simulated {practices} practices, {days} day(s) from {config.start}: "
        f"{counts['calls']} calls, {counts['events']} events (rules {rules.version})",
        soft_wrap=True,
    )


def _distinct_outputs(**paths: Path | None) -> None:
    """Two outputs on one file would interleave into a file neither reader can use."""
    seen: dict[Path | str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        where: Path | str = "standard output" if str(path) == "-" else path.resolve()
        if where in seen:
            first, second = (f"--{name.replace('_', '-')}" for name in (seen[where], option))
            raise click.UsageError(f"{first} and {second} name the same file ({where})")
        seen[where] = option


def _open(stack: ExitStack, path: Path) -> IO[str]:
    if str(path) == "-":
        return sys.stdout
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(path.open("w", encoding="utf-8"))
