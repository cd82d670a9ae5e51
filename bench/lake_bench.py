"""Warehouse writes past one machine: PostgreSQL catalog + S3 files, one and several writers,
against the local default (SQLite catalog + local files) measured in the same run.

Starts its own PostgreSQL (Debian's package) and moto's S3 server (standing in for S3/MinIO,
on 127.0.0.1: no network cost, but moto is a Python server) as the tests do. Every writer is
its own DuckDB instance, as a worker on its own machine is; several writers run in threads
at once, each MERGEing its own calls (same practices and days: they touch the same
aggregate rows) and taking turns to commit. Usage:

    python bench/lake_bench.py [--batches 8] [--batch-size 1000] [--writers 3]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from warehouse_bench import make_calls

from streams.settings import Settings
from streams.warehouse.store import Warehouse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lake_services import Lake, ObjectStore, Postgres  # noqa: E402
from pipeline_support import settings_from  # noqa: E402

console = Console()


def run_writers(settings: Settings, writers: int, batches: int, size: int) -> float:
    """Seconds for ``writers`` writers to commit ``batches`` batches of ``size`` new calls
    each, all at once (every call checked in afterwards)."""
    Warehouse.open(settings).close()  # migrations and views before the clock starts
    opened = [Warehouse.open(settings) for _ in range(writers)]
    start_line = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        start_line.wait()
        try:
            for b in range(batches):
                offset = (n * batches + b) * size
                opened[n].merge_calls(make_calls(size, offset=offset))
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    for warehouse in opened:
        warehouse.close()
    if errors:
        raise errors[0]
    with Warehouse.open(settings, read_only=True) as reader:
        count = reader.query("SELECT count(*) AS n FROM calls")["n"][0]
    if count != writers * batches * size:
        raise SystemExit(f"lost or doubled calls: {count} != {writers * batches * size}")
    return seconds


@click.command()
@click.option("--batches", default=8, show_default=True, help="Commits per writer.")
@click.option("--batch-size", default=1000, show_default=True, help="Calls per commit.")
@click.option("--writers", default=3, show_default=True, help="Writers at once (last row).")
def main(batches: int, batch_size: int, writers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as tmp:
        workdir = Path(tmp)
        postgres = Postgres.start()
        store = ObjectStore.start(workdir)
        lake = Lake(postgres, store)
        try:
            rows = []
            sizes: list[float] = []
            local = Settings(data_dir=workdir / "local")
            seconds = run_writers(local, 1, batches, batch_size)
            rows.append(("SQLite + local files, 1 writer", 1, seconds))
            for n in (1, writers):
                env = {"CALLSTREAM_DATA_DIR": str(workdir / f"lake-{n}"), **lake.new_warehouse()}
                seconds = run_writers(settings_from(env), n, batches, batch_size)
                rows.append((f"PostgreSQL + S3 (moto), {n} writer(s)", n, seconds))
                bucket = env["CALLSTREAM_DATA_PATH"].split("/")[2]
                stored = sum(
                    item["Size"]
                    for page in store.client()
                    .get_paginator("list_objects_v2")
                    .paginate(Bucket=bucket, Prefix="lake/main/classified_calls/")
                    for item in page.get("Contents", [])
                )
                sizes.append(stored / (n * batches * batch_size))
        finally:
            store.stop()
            postgres.stop()
    base = batches * batch_size / rows[0][2]
    table = Table(title=f"{batches} commits of {batch_size} new calls per writer")
    for column in ("warehouse", "calls", "seconds", "s / commit", "calls / s", "vs baseline"):
        table.add_column(column, justify="left" if column == "warehouse" else "right")
    for name, n, seconds in rows:
        calls = n * batches * batch_size
        rate = calls / seconds
        table.add_row(
            name,
            f"{calls:,}",
            f"{seconds:.1f}",
            f"{seconds / (n * batches):.2f}",
            f"{rate:,.0f}",
            f"{rate / base:.2f}x",
        )
    console.print(table)
    console.print(
        "Parquet in the bucket for classified_calls: "
        + ", ".join(f"{size:.0f}" for size in sizes)
        + " bytes per call (before compaction)"
    )


if __name__ == "__main__":
    main()
