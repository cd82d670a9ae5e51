"""`callstream export cbt` on a synthetic month: time and peak memory against plain DuckDB.

Builds a warehouse through the project's own Warehouse (calls inserted in SQL from
bench/synthetic_month.sql, facts rebuilt by ``rebuild_aggregates``), then, in the same run
and each in a fresh process: the export (NHS England's zips), the export ``--flat``, and the
baseline, the plain ``duckdb`` CLI copying the same month's facts (cbt_daily and
cbt_bucket_facts, sorted) to three CSVs with no labels, geography or zips. Prints seconds,
peak resident memory and the ratio to the baseline. Usage:

    python bench/export_bench.py [--practices 300] [--calls-per-day 100]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from streams.settings import Settings
from streams.warehouse.connect import duckdb_attach_script
from streams.warehouse.store import Warehouse

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
BASELINE = """
COPY (SELECT * FROM cbt_daily WHERE local_date BETWEEN '2026-08-01' AND '2026-08-31'
      ORDER BY local_date, practice, indicator, time_band) TO '{out}/day_time.csv' (HEADER);
COPY (SELECT * FROM cbt_bucket_facts WHERE local_date BETWEEN '2026-08-01' AND '2026-08-31'
      ORDER BY local_date, practice, indicator, bucket) TO '{out}/buckets.csv' (HEADER);
COPY (SELECT practice, local_date, indicator, sum(value) AS value FROM cbt_daily
      WHERE local_date BETWEEN '2026-08-01' AND '2026-08-31' GROUP BY ALL
      ORDER BY ALL) TO '{out}/totals.csv' (HEADER);
"""

console = Console()


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of a command run in a fresh process."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], env=env, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


@click.command()
@click.option("--practices", default=300, show_default=True)
@click.option("--calls-per-day", default=100, show_default=True, help="per practice")
def main(practices: int, calls_per_day: int) -> None:
    calls = practices * 31 * calls_per_day
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data")
        started = time.perf_counter()
        with Warehouse.open(settings) as warehouse:
            warehouse.conn.execute(
                (BENCH / "synthetic_month.sql").read_text(),
                {"practices": practices, "calls": calls},
            )
            warehouse.rebuild_aggregates(force=True)
        console.print(
            f"{calls:,} calls at {practices} practices built in "
            f"{time.perf_counter() - started:.1f} s"
        )
        env = {**os.environ, "CALLSTREAM_DATA_DIR": str(settings.data_dir)}
        attach = root / "attach.sql"
        attach.write_text(duckdb_attach_script(settings))
        (root / "plain").mkdir()
        runs = {
            "plain duckdb COPY of the facts (baseline)": [
                str(BIN / "duckdb"), "-c", f".read {attach}",
                "-c", BASELINE.format(out=root / "plain"),
            ],
            "callstream export cbt (zips)": [
                str(BIN / "callstream"), "export", "cbt", "--month", "2026-08",
                "--out", str(root / "zips"),
            ],
            "callstream export cbt --flat": [
                str(BIN / "callstream"), "export", "cbt", "--month", "2026-08",
                "--out", str(root / "flat"), "--flat",
            ],
        }  # fmt: skip
        figures = {name: measured(args, env) for name, args in runs.items()}
    baseline = next(iter(figures.values()))[0]
    table = Table(title=f"export of a month: {calls:,} calls, {practices} practices")
    for column in ("run", "seconds", "peak MB", "x baseline"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, (seconds, peak) in figures.items():
        table.add_row(name, f"{seconds:.1f}", f"{peak:.0f}", f"{seconds / baseline:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
