"""`make run`: a simulated day of about 20 practices through broker, worker and warehouse.

Starts the local broker (left running); simulates the day and writes where the practices
sit in the NHS as NHS England's reference files, loaded with `callstream reference load`;
loads the same weekday of the 4 weeks before as history (simulated, classified in bulk and
merged straight into the warehouse, so the 4-week comparisons have something to compare);
runs `callstream worker` as a subprocess, pushes the day with `callstream push`, waits until
the warehouse holds every simulated call of the day (reading it read-only, as analysts do),
prints the day's CBT summary per practice and how to query further, then stops the worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.settings import Settings, get_settings
from streams.warehouse import sqlfiles

DEMO_DAY = date(2026, 8, 3)  # a Monday: the 8am scramble is on
PRACTICES = 20
HISTORY_WEEKS = 4
WAIT_FOR_CALLS_S = 600.0
#: Demo-only: close calls that never ended quickly, so the run does not wait hours for them.
DEMO_WORKER_ENV = {"CALLSTREAM_CALL_TIMEOUT_S": "20", "CALLSTREAM_SWEEP_INTERVAL_S": "2"}

console = Console(stderr=True)


def _callstream(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"`callstream {' '.join(args[3:])}` failed (see above)")


def _truth_keys(path: Path) -> tuple[int, set[str]]:
    """How many calls the simulator made, and its practices."""
    count, practices = 0, set()
    with path.open() as f:
        for line in f:
            if line.strip():
                count += 1
                practices.add(json.loads(line)["practice"])
    return count, practices


def _calls_in_warehouse(settings: Settings, practices: set[str]) -> int:
    from streams.warehouse.store import Warehouse

    sql = sqlfiles.read("reports/calls_on_day.sql")
    try:
        warehouse = Warehouse.open(settings, read_only=True)
    except Exception:  # no warehouse until the worker's first commit
        return 0
    try:
        return int(warehouse.query(sql, {"day": DEMO_DAY, "codes": sorted(practices)})["n"][0])
    except Exception:  # views not created yet: the worker is starting
        return 0
    finally:
        warehouse.close()


def _wait_for_calls(
    settings: Settings, expected: int, practices: set[str], worker: subprocess.Popen[bytes]
) -> None:
    columns = (TextColumn("calls in the warehouse"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("calls", total=expected)
        deadline = time.monotonic() + WAIT_FOR_CALLS_S
        while True:
            if worker.poll() is not None:
                raise click.ClickException(
                    f"the worker stopped (exit {worker.returncode}); see its log in "
                    f"{settings.data_dir / 'demo' / 'worker.log'}"
                )
            seen = _calls_in_warehouse(settings, practices)
            progress.update(task, completed=seen)
            if seen >= expected:
                return
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"only {seen} of {expected} calls reached the warehouse in "
                    f"{WAIT_FOR_CALLS_S:.0f} s; see {settings.data_dir / 'demo' / 'worker.log'}"
                )
            time.sleep(1.0)


def _load_history(settings: Settings) -> int:
    """The same weekday of the HISTORY_WEEKS weeks before the demo day, simulated, classified
    by the real classifier (no Kafka) and merged into the warehouse; returns the calls."""
    from models.events import CallEvent
    from streams.core.classify import classify_call
    from streams.core.pseudonymise import load_key, pseudonymise
    from streams.core.rules import load_rules
    from streams.devtools.simulate import SimulationConfig, simulate
    from streams.warehouse.store import Warehouse

    rules = load_rules(settings.rules_file)
    secret = settings.pseudonymisation_key
    key = load_key(secret.get_secret_value() if secret else None, settings.data_dir)
    calls = []
    for weeks in range(HISTORY_WEEKS, 0, -1):
        day = DEMO_DAY - timedelta(weeks=weeks)
        config = SimulationConfig(practices=PRACTICES, start=day, days=1, key=key)
        for simulated in simulate(config, rules):
            events = [pseudonymise(CallEvent.model_validate(e), key) for e in simulated.events]
            calls.append(classify_call(events, rules))
    with Warehouse.open(settings) as warehouse:
        warehouse.merge_calls(calls)
    return len(calls)


def _summary(settings: Settings) -> None:
    from streams.warehouse.store import Warehouse

    warehouse = Warehouse.open(settings, read_only=True)
    try:
        frame = warehouse.query(
            sqlfiles.read("reports/practice_day_summary.sql"), {"local_date": DEMO_DAY}
        )
    finally:
        warehouse.close()
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title=f"CBT summary, {DEMO_DAY:%A %d %B %Y} (simulated)",
    )
    for name in frame.columns:
        if name == "name":  # as long as the terminal allows, then cut short
            table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=28)
            continue
        left = name == "practice"
        table.add_column(name, justify="left" if left else "right", min_width=len(name))
    for row in frame.iter_rows(named=True):
        row["name"] = (row["name"] or "").title()
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console = Console()
    console.print(table)
    # under the table, not its caption: that wrapped to the table's width and lost words
    console.print(
        "CBT001 inbound, CBT002 ended in IVR, CBT003 answered, CBT004 missed, CBT005 callback "
        "requested, CBT006 callbacks made; wait_p50: median wait of answered calls (s), 60s_%: "
        "answered within 60 s",
        style="table.caption",
        highlight=False,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@click.command(help="Run a simulated day of about 20 practices through the pipeline.")
def main() -> None:
    """The `make run` demo."""
    from streams.devtools.broker import control as broker

    settings = get_settings()
    demo_dir = settings.data_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    events, truth = demo_dir / "events.jsonl", demo_dir / "truth.jsonl"

    console.print("[bold]1/7[/] starting the local Kafka broker…")
    bootstrap = broker.start(settings)
    env = {**os.environ, "CALLSTREAM_KAFKA_BOOTSTRAP": bootstrap}

    reference = demo_dir / "reference"
    console.print(
        f"[bold]2/7[/] simulating {PRACTICES} practices on {DEMO_DAY}, and their NHS reference "
        f"files in {reference}…"
    )
    _run(
        _callstream(
            "simulate",
            "--practices",
            str(PRACTICES),
            "--start",
            DEMO_DAY.isoformat(),
            "--days",
            "1",
            "--out",
            str(events),
            "--truth",
            str(truth),
            "--reference-dir",
            str(reference),
        ),
        env,
    )
    expected, practices = _truth_keys(truth)
    console.print("[bold]3/7[/] loading the practices' names, PCNs, ICBs and list sizes…")
    _run(_callstream("reference", "load", *(str(p) for p in sorted(reference.iterdir()))), env)
    console.print(
        f"[bold]4/7[/] history: the same weekday of the {HISTORY_WEEKS} weeks before, "
        "classified in bulk…"
    )
    console.print(f"      {_load_history(settings)} calls merged into the warehouse")

    console.print(f"[bold]5/7[/] starting the worker (log: {demo_dir / 'worker.log'})…")
    with (demo_dir / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            _callstream("worker", "--loglevel", "warning"),
            env={**DEMO_WORKER_ENV, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            console.print(f"[bold]6/7[/] pushing {events.name}, then waiting for {expected} calls…")
            _run(_callstream("push", str(events)), env)
            _wait_for_calls(settings, expected, practices, worker)
            _summary(settings)
        finally:
            _stop(worker)
    site = demo_dir / "dashboards"
    console.print(f"[bold]7/7[/] building the dashboards into {site}…")
    _run(_callstream("dashboards", "build", "--out", str(site)), env)
    console.print(
        f"\nResults are in the warehouse under {settings.data_dir / 'warehouse'}.\n"
        f"Dashboards: open {site / 'index.html'} in a browser "
        "(or `.venv/bin/callstream dashboards serve` for pages refreshed every 5 minutes).\n"
        "Query the warehouse (read-only, also while a worker writes), e.g.:\n"
        '  .venv/bin/callstream sql "SELECT practice, outcome, count(*) FROM calls GROUP BY ALL"\n'
        "  .venv/bin/callstream sql --attach-script > attach.sql && .venv/bin/duckdb -init "
        "attach.sql\n"
        "Run the pipeline yourself: `callstream worker`, then `callstream push FILE`.\n"
        "The broker is still running; stop it with `.venv/bin/callstream broker stop`.",
        soft_wrap=True,  # commands stay on one line, to copy and paste
    )


def run() -> None:
    """Entry point: errors in one line, never a traceback."""
    from streams.cli import run as run_command

    run_command(main)


if __name__ == "__main__":
    run()
