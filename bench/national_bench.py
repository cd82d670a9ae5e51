"""A national month on this machine: dashboard pages, the NHS export and analyst views.

Builds August 2026 for England (30 million calls, 6,200 practices, 1,240 PCNs, 42 ICBs at
``--scale 1``) through the project's own warehouse code: calls generated in SQL straight into
``classified_calls``, every fact table rebuilt by ``Warehouse.rebuild_aggregates``, then the
compaction the writer runs on schedule. Then it times, each beside plain DuckDB over the same
Parquet files in the same run (an in-memory DuckDB whose tables are ``read_parquet`` of the
files the lake lists, with the same views on top):

- every dashboard page type for one practice, one PCN and one ICB, as ``dashboards serve``
  renders it: cold (the first request after a new snapshot) and from its cache;
- ``callstream export cbt`` for the month (zips and ``--flat``; a child process each: its own
  peak memory) against plain DuckDB writing the same flat files with the same statements
  (byte-identical, checked, and their figures equal to a recount from the calls);
- ten analyst views for one ICB-month and one practice-month through ``callstream sql``
  (a child process each, start-up included) against the plain ``duckdb`` CLI.

Prints every figure (wall and CPU seconds: on a shared machine the wall time mostly measures
the load) and the ratios. Usage (``--scale 0.02`` for a quick run):

    python bench/national_bench.py [--scale 1.0] [--dir DIR [--reuse]] [--parts pages,export,views]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click
import duckdb
from rich.console import Console
from rich.table import Table

from streams.outputs.dashboards.build import panel_sql
from streams.outputs.dashboards.serve import DashboardSite
from streams.outputs.dashboards.spec import dates_for
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.store import Warehouse

console = Console(width=150)
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: Calls, practices, PCNs (5 practices each) and ICBs of a national month at scale 1.
CALLS, PRACTICES, PCN_SIZE, ICBS = 30_000_000, 6_200, 5, 42

#: The calls, generated in SQL: 31 days of August 2026, 28.7% of them 08:00-09:59 local time,
#: four outcomes, NHS wait and talk buckets, callers who ring more than once, the bank holiday
#: (31 August) Non-Core, NHS England's seven region codes.
GENERATE = """
INSERT INTO classified_calls
WITH raw AS (
    SELECT
        i,
        'P' || lpad((i % $practices)::VARCHAR, 5, '0') AS practice,
        DATE '2026-08-01' + ((i // $practices) % 31)::INTEGER AS local_date,
        (hash(i) >> 1)::BIGINT AS h
    FROM range($calls) AS t (i)
),
timed AS (
    SELECT
        *,
        CASE
            WHEN h % 1000 < 287 THEN 28800 + (h // 1000) % 7200
            WHEN h % 1000 < 330 THEN 25200 + (h // 1000) % 3600
            ELSE 36000 + (h // 1000) % 30600
        END AS second_of_day,
        (h // 7) % 100 AS roll,
        ((h // 11) % 400)::INTEGER AS wait,
        -- talk: 8.3% over 5 minutes, as NHS England's August 2026 shares (10 s to 29 min)
        CASE
            WHEN (h // 13) % 1000 < 917 THEN 10 + ((h // 13) % 1000) * 290 // 917
            ELSE 300 + ((h // 13) % 1000 - 917) * 17
        END::INTEGER AS talk
    FROM raw
),
shaped AS (
    SELECT
        *,
        (local_date + to_seconds(second_of_day)) AT TIME ZONE 'Europe/London' AS started,
        CASE
            WHEN roll < 68 THEN 'answered'
            WHEN roll < 80 THEN 'ended_in_ivr'
            WHEN roll < 95 THEN 'missed'
            ELSE 'callback_requested'
        END AS outcome,
        second_of_day // 3600 AS hour
    FROM timed
)
SELECT
    practice,
    'n' || i,
    started,
    local_date,
    CASE
        WHEN hour < 6 THEN '00:00-05:59'
        WHEN hour < 8 THEN '06:00-07:59'
        WHEN hour < 10 THEN '08:00-09:59'
        WHEN hour < 12 THEN '10:00-11:59'
        WHEN hour < 14 THEN '12:00-13:59'
        WHEN hour < 16 THEN '14:00-15:59'
        WHEN hour < 18 THEN '16:00-17:59'
        WHEN second_of_day < 66600 THEN '18:00-18:29'
        ELSE '18:30-23:59'
    END,
    CASE
        WHEN isodow(local_date) > 5 OR local_date = DATE '2026-08-31'  -- summer bank holiday
            OR second_of_day < 28800 OR second_of_day >= 66600
            THEN 'Non-Core'
        WHEN hour < 10 THEN 'Core_8_10'
        ELSE 'Core_10_1830'
    END,
    true,
    outcome,
    CASE WHEN outcome IN ('answered', 'missed') THEN wait END,
    CASE
        WHEN outcome NOT IN ('answered', 'missed') THEN NULL
        WHEN wait = 0 THEN '0'
        WHEN wait > 300 THEN '>300'
        WHEN wait > 240 THEN '241_300'
        ELSE ((wait - 1) // 30 * 30 + 1)::VARCHAR || '_' || ((wait - 1) // 30 * 30 + 30)::VARCHAR
    END,
    CASE WHEN outcome = 'answered' THEN talk END,
    CASE
        WHEN outcome <> 'answered' THEN NULL
        WHEN talk <= 60 THEN '1 minute or less'
        WHEN talk <= 120 THEN '1 to 2 minutes'
        WHEN talk <= 300 THEN '2 to 5 minutes'
        ELSE 'over 5 minutes'
    END,
    outcome = 'callback_requested' AND roll % 2 = 0,
    ['appointments', 'prescriptions', 'results', 'admin', NULL][1 + (h // 17) % 5],
    CASE WHEN outcome = 'answered' THEN 'reception' END,
    CASE WHEN outcome = 'answered' AND roll % 9 = 0 THEN 1 ELSE 0 END,
    CASE
        WHEN outcome = 'answered' AND roll % 9 = 0 THEN 'transferred'
        WHEN outcome = 'answered' THEN 'right_first_time'
        WHEN outcome = 'ended_in_ivr' AND roll % 2 = 0 THEN 'signposted'
        ELSE 'unrouted'
    END,
    CASE WHEN roll % 10 = 0 THEN NULL ELSE practice || '-' || ((h // 19) % 90)::VARCHAR END,
    true,
    'bench',
    started + to_seconds(coalesce(wait, 0) + coalesce(talk, 30)),
    CASE WHEN outcome = 'callback_requested' AND roll % 2 = 0 THEN roll % 4 = 0 END,
    CASE WHEN outcome = 'callback_requested' AND roll % 2 = 0 THEN 600 + wait END,
    CASE WHEN outcome = 'ended_in_ivr' AND roll % 2 = 0 THEN 'pharmacy' END,
    4,
    now(),
    now(),
    CASE WHEN outcome = 'answered' THEN 'agent-' || ((h // 23) % 6)::VARCHAR END,
    CASE WHEN outcome = 'answered' THEN started + to_seconds(wait) END
FROM shaped
"""

#: Practice -> PCN -> ICB -> region, as `callstream reference load` would store them.
REFERENCE = """
INSERT INTO practice_mappings
SELECT
    DATE '2026-07-01',
    'P' || lpad(p::VARCHAR, 5, '0'),
    'PRACTICE ' || p,
    'U' || lpad((p // $pcn_size)::VARCHAR, 5, '0'),
    'PCN ' || (p // $pcn_size),
    'S' || lpad((p * $icbs // $practices)::VARCHAR, 2, '0'),
    'SUB ICB ' || (p * $icbs // $practices),
    'Q' || lpad((p * $icbs // $practices)::VARCHAR, 2, '0'),
    'ICB ' || (p * $icbs // $practices),
    ['Y56', 'Y58', 'Y59', 'Y60', 'Y61', 'Y62', 'Y63'][1 + p * 7 // $practices],
    'REGION ' || (p * 7 // $practices),
    'bench',
    now()
FROM range($practices) AS t (p)
"""

#: The practices' ODS (epraccur) rows and list sizes, the rest of what `callstream reference
#: load` stores: with them `practice_hierarchy` joins three loaded sources, as in a deployment
#: (left empty, each query that read them also paid DuckLake 1.5.5's uncached statistics
#: look-ups of an empty table, one per column: about 60 ms of `calls_with_hierarchy`).
ODS_AND_LIST_SIZES = (
    """
INSERT INTO ods_practices
SELECT
    DATE '2026-07-01',
    'P' || lpad(p::VARCHAR, 5, '0'),
    'PRACTICE ' || p,
    ['Y56', 'Y58', 'Y59', 'Y60', 'Y61', 'Y62', 'Y63'][1 + p * 7 // $practices],
    'Q' || lpad((p * $icbs // $practices)::VARCHAR, 2, '0'),
    'S' || lpad((p * $icbs // $practices)::VARCHAR, 2, '0'),
    'LS1 ' || (p % 10) || 'AA',
    DATE '1990-04-01',
    NULL,
    'Active',
    'RO76',
    'bench',
    now()
FROM range($practices) AS t (p)
""",
    """
INSERT INTO practice_list_sizes
SELECT DATE '2026-07-01', 'P' || lpad(p::VARCHAR, 5, '0'), 4000 + (p * 37) % 12000, 'bench', now()
FROM range($practices) AS t (p)
""",
)

#: Ten analyst views people query most, each for one organisation's month.
ANALYST_VIEWS = (
    "outcome_shares",
    "answer_speed",
    "callbacks",
    "service_level",
    "repeat_callers",
    "caller_day_attempts",
    "peak_demand_8am_slots",
    "routing_effectiveness",
    "cbt_daily",
    "calls_with_hierarchy",
)


#: The plain-DuckDB baseline of the export: the same COPY statements (the --flat files) run by
#: plain DuckDB over the lake's Parquet files with the same views on top, in its own process.
PLAIN_EXPORT = """
import sys
from pathlib import Path
import duckdb
from streams.core import cbt_publication as nhs
from streams.outputs.export_cbt import export_params, write_flat
from streams.warehouse.published_store import prepare_labels
script, month, out = sys.argv[1:]
conn = duckdb.connect()
conn.execute("SET TimeZone = 'UTC'")
conn.execute(Path(script).read_text(encoding="utf-8"))
prepare_labels(conn)
Path(out).mkdir(parents=True, exist_ok=True)
for kind in nhs.FileKind:
    write_flat(conn, kind, month, export_params(month), Path(out))
"""

#: The recount: every counted CBT indicator of the month, from the calls (not the facts).
RECOUNT = """
SELECT count(*) FILTER (WHERE counts) AS n
FROM cbt_call_indicators
WHERE local_date BETWEEN DATE '2026-08-01' AND DATE '2026-08-31'
"""


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Took(NamedTuple):
    """Wall seconds and CPU seconds (user + system, every thread): on a shared machine the
    wall time mostly measures the load, the CPU time what the work itself costs."""

    wall: float
    cpu: float


def stopwatch() -> Callable[[], Took]:
    """Start timing this process; the function returned gives what it took since."""
    wall, cpu = time.monotonic(), time.process_time()
    return lambda: Took(time.monotonic() - wall, time.process_time() - cpu)


def child(argv: list[str], env: dict[str, str]) -> tuple[Took, float, str]:
    """Run a command; what it took, its own peak memory (MB) and its stdout (both the CPU
    time and the memory by /usr/bin/time)."""
    started = time.monotonic()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", *argv], env=env, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed: {done.stderr[-500:]}")
    user, system, peak_kb = re.findall(r"([\d.]+) ([\d.]+) (\d+)\s*$", done.stderr)[-1]
    return Took(seconds, float(user) + float(system)), int(peak_kb) / 1024, done.stdout


def used_by(sql: str, values: dict[str, Any]) -> dict[str, Any]:
    """The named parameters ``sql`` uses (DuckDB refuses any it does not)."""
    return {name: value for name, value in values.items() if f"${name}" in sql}


def build(settings: Settings, scale: float) -> dict[str, float]:
    calls = int(CALLS * scale)
    practices = max(50, int(PRACTICES * scale))
    figures: dict[str, float] = {"calls": calls, "practices": practices}
    with Warehouse.open(settings) as warehouse:
        started = time.monotonic()
        icbs = max(1, round(ICBS * scale))
        warehouse.conn.execute(
            REFERENCE, {"practices": practices, "pcn_size": PCN_SIZE, "icbs": icbs}
        )
        for statement in ODS_AND_LIST_SIZES:
            warehouse.conn.execute(
                statement, used_by(statement, {"practices": practices, "icbs": icbs})
            )
        warehouse.conn.execute(GENERATE, {"practices": practices, "calls": calls})
        figures["load_s"] = time.monotonic() - started
        started = time.monotonic()
        warehouse.rebuild_aggregates(force=True)
        figures["facts_s"] = time.monotonic() - started
        started = time.monotonic()
        warehouse.compact()
        figures["compact_s"] = time.monotonic() - started
    return figures


def plain_duckdb(warehouse: Warehouse, work: Path) -> tuple[duckdb.DuckDBPyConnection, str]:
    """An in-memory DuckDB over the lake's Parquet files (no DuckLake), the same views on
    top; returns it and the SQL that sets it up (for the plain ``duckdb`` CLI)."""
    tables = warehouse.query("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'")[
        "table_name"
    ].to_list()
    lines = []
    for table in tables:
        files = warehouse.query(
            f"SELECT data_file, delete_file FROM ducklake_list_files('lake', '{table}')"
        )
        paths = files["data_file"].to_list()
        if files["delete_file"].drop_nulls().len():  # a small table with deletions: a copy
            copy = work / f"plain-{table}.parquet"
            warehouse.conn.execute(f"COPY (FROM {table}) TO '{copy}' (FORMAT parquet)")
            paths = [str(copy)]
        source = f"read_parquet({paths!r})" if paths else None
        if source is None:
            columns = warehouse.query(f"DESCRIBE {table}")
            body = ", ".join(
                f"NULL::{t} AS {n}"
                for n, t in zip(columns["column_name"], columns["column_type"], strict=True)
            )
            lines.append(f"CREATE VIEW {table} AS SELECT {body} WHERE false;")
        else:
            lines.append(f"CREATE VIEW {table} AS SELECT * FROM {source};")
    for view in sqlfiles.dependency_order(sqlfiles.views()):
        lines.append(f"CREATE VIEW {view.name} AS {view.text.strip().rstrip(';')};")
    script = "\n".join(lines)
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(script)
    return conn, script


def time_pages(settings: Settings, root: Path, plain: duckdb.DuckDBPyConnection) -> list[tuple]:
    site = DashboardSite(settings, root)
    took = stopwatch()
    assert site.refresh(), site.status.last_error
    rows: list[tuple] = [("serve: pin a new snapshot", "", took(), None)]
    pinned = site.current
    assert pinned is not None
    chosen = {}
    for org in pinned.site.orgs:
        chosen.setdefault(org.level, org)
    for level in ("practice", "pcn", "icb"):
        org = chosen[level]
        for dashboard in pinned.site.dashboards:
            if level not in dashboard.levels:
                continue
            relative = f"{level}/{org.code}/{dashboard.slug}.html"
            took = stopwatch()
            site.page(relative)
            cold = took()
            took = stopwatch()
            site.page(relative).read_bytes()
            cached = took()
            took = stopwatch()
            for panel in dashboard.panels:
                values = {
                    "practices": list(org.practices),
                    "dates": dates_for(panel.dates, pinned.site.today),
                    "today": pinned.site.today,
                }
                sql = panel_sql(panel)
                plain.execute(sql, used_by(sql, values)).fetchall()
            baseline = took()
            rows.append((f"page {dashboard.slug}", f"{level} {org.code}", cold, baseline))
            rows.append((f"page {dashboard.slug} (cached)", f"{level} {org.code}", cached, None))
    site.current.close()
    return rows


def time_export(env: dict[str, str], views: Path, plain: duckdb.DuckDBPyConnection) -> list[tuple]:
    """`callstream export cbt` (zips, and --flat) against plain DuckDB writing the same flat
    files over the same Parquet; the files must be byte-identical and their figures must
    equal a recount from the calls."""
    work = views.parent
    shutil.rmtree(work / "export", ignore_errors=True)
    export = [str(BIN / "callstream"), "export", "cbt", "--month", "2026-08", "--out"]
    zips_s, zips_mb, _ = child([*export, str(work / "export" / "zips")], env)
    flat_s, flat_mb, _ = child([*export, str(work / "export" / "flat"), "--flat"], env)
    plain_out = work / "export" / "plain"
    plain_s, plain_mb, _ = child(
        [sys.executable, "-c", PLAIN_EXPORT, str(views), "2026-08", str(plain_out)], env
    )
    for path in sorted(plain_out.glob("*.csv")):
        ours = work / "export" / "flat" / path.name
        if ours.read_bytes() != path.read_bytes():
            raise SystemExit(f"export: {ours} differs from plain DuckDB's {path}")
    manifest = json.loads((work / "export" / "flat" / "cbt_2026-08_manifest.json").read_text())
    day_time = next(f for f in manifest["files"] if f["name"].endswith("_day_time.csv"))
    recount = plain.execute(RECOUNT).fetchone()[0]
    if day_time["value_total"] != recount:
        raise SystemExit(f"export: day and time Values {day_time['value_total']} != {recount}")
    console.print(
        f"export: flat files byte-identical to plain DuckDB's; {recount:,} counted indicators, "
        "the same as a recount from the calls"
    )
    return [
        (f"export cbt 2026-08, zips (peak {zips_mb:.0f} MB; plain {plain_mb:.0f})", "England",
         zips_s, plain_s),
        (f"export cbt 2026-08 --flat (peak {flat_mb:.0f} MB)", "England", flat_s, plain_s),
    ]  # fmt: skip


def time_views(env: dict[str, str], script: Path, icb: str, practice: str) -> list[tuple]:
    rows: list[tuple] = []
    callstream = str(BIN / "callstream")
    plain_cli = str(BIN / "duckdb")
    for scope, where in (
        (f"ICB {icb}", f"practice IN (SELECT practice FROM practice_hierarchy "
         f"WHERE icb_code = '{icb}')"),
        (f"practice {practice}", f"practice = '{practice}'"),
    ):  # fmt: skip
        for view in ANALYST_VIEWS:
            query = (
                f"SELECT count(*) AS n FROM {view} WHERE {where} "
                "AND local_date BETWEEN DATE '2026-08-01' AND DATE '2026-08-31'"
            )
            ours, ours_mb, out = child([callstream, "sql", "--format", "csv", query], env)
            plain, plain_mb, plain_out = child(
                [plain_cli, "-csv", "-init", str(script), "-c", query], env
            )
            if out.split()[-1] != plain_out.split()[-1]:
                raise SystemExit(f"{view} {scope}: callstream {out!r} != plain {plain_out!r}")
            rows.append((f"view {view}", scope, ours, plain))
    return rows


@click.command()
@click.option("--scale", type=click.FloatRange(0.001, 1.0), default=1.0, show_default=True)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--reuse",
    is_flag=True,
    help="Keep the month already built in --dir (its scale) instead of building it again.",
)
@click.option(
    "--parts",
    default="pages,export,views",
    show_default=True,
    help="What to time, comma separated (a shared machine: one part per run).",
)
def main(scale: float, directory: Path | None, reuse: bool, parts: str) -> None:
    """Build the national month, time pages, export and views, print ratios."""
    work = directory or Path(tempfile.mkdtemp(prefix="callstream-national-"))
    settings = Settings(data_dir=work / "data")
    env = {**os.environ, "CALLSTREAM_DATA_DIR": str(settings.data_dir)}
    if reuse and (settings.data_dir / "warehouse").is_dir():
        with Warehouse.open(settings) as warehouse:  # migrations and facts of this checkout
            calls = warehouse.query("SELECT count(*) AS n FROM classified_calls")["n"][0]
        label = f"{calls:,} calls (reused)"
        console.print(f"national month reused from {work}: {calls:,} calls")
    else:
        shutil.rmtree(work / "data", ignore_errors=True)
        figures = build(settings, scale)
        label = f"scale {scale:g}"
        console.print(
            f"national month at scale {scale:g}: {figures['calls']:,} calls, "
            f"{figures['practices']:,} practices; load {figures['load_s']:.1f} s, facts "
            f"{figures['facts_s']:.1f} s, compaction {figures['compact_s']:.1f} s; "
            f"peak memory so far {peak_rss_mb():,.0f} MB"
        )
    with Warehouse.open(settings, read_only=True) as warehouse:
        plain, script_text = plain_duckdb(warehouse, work)
        icb = warehouse.query("SELECT min(icb_code) AS c FROM practice_hierarchy")["c"][0]
        practice = warehouse.query("SELECT min(practice) AS p FROM practice_day_facts")["p"][0]
    script = work / "plain.sql"
    script.write_text(".mode csv\n" + script_text + "\n", encoding="utf-8")
    views = work / "plain_views.sql"
    views.write_text(script_text + "\n", encoding="utf-8")
    chosen = set(parts.split(","))
    rows = time_pages(settings, work / "served", plain) if "pages" in chosen else []
    rows += time_export(env, views, plain) if "export" in chosen else []
    rows += time_views(env, script, icb, practice) if "views" in chosen else []
    table = Table(
        title=f"National month, {label} (seconds, wall / CPU; ratio = ours / plain DuckDB); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name in ("what", "for", "callstream", "plain DuckDB", "ratio wall / CPU"):
        table.add_column(name, justify="left" if name in ("what", "for") else "right")
    for what, scope, ours, base in rows:
        if base is None:
            table.add_row(what, scope, _took(ours), "", "")
            continue
        ratio = f"{ours.wall / base.wall:.2f} / {ours.cpu / max(base.cpu, 1e-3):.2f}"
        table.add_row(what, scope, _took(ours), _took(base), ratio)
    console.print(table)
    console.print(f"peak memory of this process {peak_rss_mb():,.0f} MB; data in {work}")


def _took(took: Took) -> str:
    return f"{took.wall:.3f} / {took.cpu:.3f}"


if __name__ == "__main__":
    main()
