"""Warehouse MERGE throughput (classified calls per second) against a plain-INSERT baseline.

Baseline, same run, same calls: each batch staged exactly as ``merge_calls`` stages it and
appended with a plain INSERT to a table in a plain DuckDB file (no keys, no DuckLake). Then
the same batches through ``Warehouse.merge_calls`` (new calls), again (a replay: nothing
changes), and once more with every call corrected (every row updated). Usage:

    python bench/warehouse_bench.py [--batches 20] [--batch-size 5000]
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.table import Table

from models.classified import ClassifiedCall
from streams.settings import Settings
from streams.warehouse.store import Warehouse, calls_frame

console = Console()


CALLS_PER_DAY = 10_000


def make_calls(count: int, offset: int = 0, talk_extra: int = 0) -> list[ClassifiedCall]:
    """Answered calls of 200 practices in time order, as a stream delivers them:
    CALLS_PER_DAY a day, so a batch touches one or two days of every practice (each touched
    practice-day has its cbt_daily recomputed)."""
    calls = []
    for i in range(offset, offset + count):
        day = date(2026, 8, 3) + timedelta(days=i // CALLS_PER_DAY)
        started = datetime(day.year, day.month, day.day, 7, 0, tzinfo=UTC) + timedelta(
            seconds=(i % CALLS_PER_DAY) * 3
        )
        calls.append(
            ClassifiedCall(
                practice=f"B{i % 200:05d}",
                call_id=f"bench-{i}",
                started_at=started,
                local_date=day,
                time_band="08:00-09:59",
                core_category="Core_8_10",
                inbound=True,
                outcome="answered",
                wait_s=i % 400,
                wait_bucket="1_30",
                talk_s=120 + i % 300 + talk_extra,
                duration_bucket="2 to 5 minutes",
                callback_made=False,
                request_type="appointments",
                first_team="reception",
                transfers=0,
                routing="right_first_time",
                caller_key=f"caller-{i % 50000}",
                complete=True,
                rules_version="bench",
                ended_at=started + timedelta(minutes=5),
                events=5,
            )
        )
    return calls


def baseline(batches: Sequence[Sequence[ClassifiedCall]], workdir: Path) -> float:
    """Seconds to stage and plainly INSERT every batch into a plain DuckDB table."""
    conn = duckdb.connect(str(workdir / "baseline.duckdb"))
    start = time.perf_counter()
    for batch in batches:
        staging = workdir / f"batch-{uuid.uuid4().hex}.parquet"
        calls_frame(batch).write_parquet(staging, compression="uncompressed", statistics=False)
        rows = f"SELECT *, now() AS ingested_at FROM read_parquet('{staging}')"
        # The table takes the staged file's columns: the baseline follows the call contract.
        conn.execute(f"CREATE TABLE IF NOT EXISTS classified_calls AS {rows} LIMIT 0")
        conn.execute("BEGIN TRANSACTION")
        conn.execute(f"INSERT INTO classified_calls {rows}")
        conn.execute("COMMIT")
        staging.unlink()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def merged(
    warehouse: Warehouse, batches: Sequence[Sequence[ClassifiedCall]]
) -> tuple[float, int, float]:
    """Seconds to MERGE every batch, the rows the MERGEs changed, seconds of the last batch
    (the table is largest then: shows whether a MERGE slows as the warehouse grows)."""
    changed, total, last = 0, 0.0, 0.0
    for batch in batches:
        start = time.perf_counter()
        changed += warehouse.merge_calls(batch)
        last = time.perf_counter() - start
        total += last
    return total, changed, last


@click.command()
@click.option("--batches", default=20, show_default=True, help="Batches of new calls.")
@click.option("--batch-size", default=5000, show_default=True, help="Calls per batch.")
def main(batches: int, batch_size: int) -> None:
    """Print calls/s for a plain INSERT, MERGE of new calls, replay and correction."""
    with console.status("building calls"):
        fresh = [make_calls(batch_size, b * batch_size) for b in range(batches)]
        corrected = [make_calls(batch_size, b * batch_size, talk_extra=1) for b in range(batches)]
    total = batches * batch_size
    with tempfile.TemporaryDirectory(prefix="callstream-bench-") as tmp:
        workdir = Path(tmp)
        with console.status("baseline: plain INSERT into a plain DuckDB table"):
            base_s = baseline(fresh, workdir)
        with Warehouse.open(Settings(data_dir=workdir / "data")) as warehouse:
            with console.status("MERGE of new calls into DuckLake"):
                new_s, new_rows, new_last = merged(warehouse, fresh)
            with console.status("replay of the same batches"):
                replay_s, replay_rows, replay_last = merged(warehouse, fresh)
            with console.status("correction of every call"):
                fix_s, fix_rows, fix_last = merged(warehouse, corrected)
            with console.status("compaction"):
                start = time.perf_counter()
                warehouse.compact()
                compact_s = time.perf_counter() - start
            stored = warehouse.query("SELECT count(*) AS n FROM calls")["n"][0]
    if (new_rows, replay_rows, fix_rows, stored) != (total, 0, total, total):
        raise click.ClickException(
            f"wrong row counts: new {new_rows}, replay {replay_rows}, corrected {fix_rows}, "
            f"stored {stored}, expected {total}/0/{total}/{total}"
        )
    table = Table(title=f"{batches} batches of {batch_size} classified calls ({total} calls)")
    for column in ("run", "seconds", "calls/s", "speed vs baseline", "last batch calls/s"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, seconds, last in (
        ("baseline: plain INSERT, plain DuckDB", base_s, None),
        ("MERGE new calls (DuckLake)", new_s, new_last),
        ("MERGE replay (no change)", replay_s, replay_last),
        ("MERGE correction (all updated)", fix_s, fix_last),
    ):
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{total / seconds:,.0f}",
            f"{base_s / seconds:.2f}x",
            "" if last is None else f"{batch_size / last:,.0f}",
        )
    console.print(table)
    console.print(f"compaction afterwards: {compact_s:.2f} s")


if __name__ == "__main__":
    main()
