"""`callstream sql`: formats, one-line errors, read-only, and answers while a writer writes."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from warehouse_support import make_call

from streams.cli import cli
from streams.settings import Settings
from streams.warehouse.connect import WarehouseError
from streams.warehouse.store import Warehouse

REPO = Path(__file__).resolve().parent.parent


def run_sql(*args: str) -> Result:
    return CliRunner().invoke(cli, ["sql", *args])


@pytest.fixture
def filled(data_dir: Path) -> Path:
    """A warehouse holding two calls of practice A12345 (one answered, one missed)."""
    with Warehouse.open(Settings(data_dir=data_dir)) as warehouse:
        warehouse.merge_calls(
            [
                make_call("c1"),
                make_call("c2", outcome="missed", talk_s=None, duration_bucket=None),
            ]
        )
    return data_dir


def sql_count() -> int:
    result = run_sql("--format", "json", "SELECT count(*) AS n FROM calls")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]["n"]


def counts_while_writing(
    data_dir: Path, batches: int, size: int, pause: float, count: Callable[[], int]
) -> list[int]:
    """Run ``count`` over and over while a writer process commits ``batches`` of ``size``
    calls, ``pause`` seconds apart; the counts seen, in order."""
    writer = textwrap.dedent(
        f"""
        import sys, time
        from streams.settings import Settings
        from streams.warehouse.store import Warehouse
        sys.path.insert(0, 'tests')
        from warehouse_support import make_call
        with Warehouse.open(Settings(data_dir=sys.argv[1])) as w:
            for batch in range({batches}):
                w.merge_calls([make_call(f"c{{batch}}-{{i}}") for i in range({size})])
                time.sleep({pause})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(data_dir)], cwd=REPO)
    counts: list[int] = []
    try:
        while process.poll() is None:
            counts.append(count())
    finally:
        process.wait(timeout=60)
    assert process.returncode == 0
    return counts


QUERY = "SELECT call_id, outcome, wait_s, talk_s, local_date FROM calls ORDER BY call_id"


def test_csv_output(filled: Path) -> None:
    result = run_sql("--format", "csv", QUERY)
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.stdout))) == [
        {"call_id": "c1", "outcome": "answered", "wait_s": "42", "talk_s": "95",
         "local_date": "2026-08-03"},
        {"call_id": "c2", "outcome": "missed", "wait_s": "42", "talk_s": "",
         "local_date": "2026-08-03"},
    ]  # fmt: skip


def test_json_output(filled: Path) -> None:
    result = run_sql("--format", "json", QUERY)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"call_id": "c1", "outcome": "answered", "wait_s": 42, "talk_s": 95,
         "local_date": "2026-08-03"},
        {"call_id": "c2", "outcome": "missed", "wait_s": 42, "talk_s": None,
         "local_date": "2026-08-03"},
    ]  # fmt: skip


def test_table_output_names_columns_rows_and_snapshot(filled: Path) -> None:
    result = run_sql("SELECT indicator, value FROM cbt_daily ORDER BY indicator")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("indicator" in line and "value" in line for line in lines)
    body = {tuple(cell.strip() for cell in line.strip("│ ").split("│")) for line in lines}
    assert {("CBT001", "2"), ("CBT003", "1"), ("CBT004", "1"), ("CBT007", "1")} <= body
    assert "7 rows, data as of snapshot" in result.stdout  # on one line, under the table
    narrow = run_sql("SELECT 1 AS x")  # the caption wrapped to the table: a word a line
    assert "1 rows, data as of snapshot" in narrow.stdout, narrow.stdout


def test_snapshot_option_reads_the_past(filled: Path) -> None:
    with Warehouse.open(Settings(data_dir=filled)) as warehouse:
        then = warehouse.snapshot().id
        warehouse.merge_calls([make_call("c3")])
    count = "SELECT count(*) AS n FROM calls"
    assert json.loads(run_sql("--format", "json", count).stdout) == [{"n": 3}]
    past = run_sql("--format", "json", "--snapshot", str(then), count)
    assert json.loads(past.stdout) == [{"n": 2}]
    # Snapshot 1 is from before the views: no retry helps, so none is suggested.
    early = run_sql("--snapshot", "1", count)
    assert early.exit_code == 1 and "is from before its views were created" in early.output
    assert "try again" not in early.output


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("INSERT INTO classified_calls SELECT * FROM classified_calls", "read-only here"),
        ("DELETE FROM classified_calls", "read-only here"),
        ("CREATE TABLE memory.main.x AS SELECT 1", "read-only here"),
        ("COPY (SELECT 1) TO 'out.csv'", "read-only here"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'out.csv'", "not EXPLAIN of COPY"),
        ("EXPLAIN (FORMAT json) COPY (SELECT 1) TO 'out.csv'", "not EXPLAIN of COPY"),
        ("EXPLAIN ANALYZE INSERT INTO classified_calls SELECT * FROM classified_calls", "INSERT"),
        ("ATTACH 'other.db'", "not ATTACH"),
        ("SET enable_external_access = true", "not SET"),
        ("CALL pragma_version()", "not CALL"),
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM glob('/*')", "file system operations are disabled"),
        ("SELEC 1", "query failed: Parser Error"),
        ("SELECT * FROM no_such_view", "query failed: Catalog Error"),
        ("SELECT 1; SELECT 2", "exactly one SQL statement"),
        ("INSTALL httpfs", "not INSTALL"),
        ("CHECKPOINT", "not CHECKPOINT"),
        ("USE memory", "not USE"),
        ("SELECT * FROM query('SELECT 1')", "may not call query()"),
        ("FROM main.\"DuckLake_Expire_Snapshots\"('lake')", "ducklake_expire_snapshots()"),
    ],
)
def test_errors_are_one_line(filled: Path, query: str, message: str) -> None:
    result = run_sql(query)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error = result.stderr.strip()
    assert "\n" not in error and error.startswith("Error: ") and message in error
    assert json.loads(run_sql("--format", "json", "SELECT count(*) AS n FROM calls").stdout) == [
        {"n": 2}
    ]


def test_no_warehouse_yet(data_dir: Path) -> None:
    result = run_sql("SELECT 1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: no warehouse at {data_dir.resolve() / 'warehouse'}; "
        "start the worker or run `make run` first"
    )


def test_an_empty_or_foreign_catalog_file_says_what_to_do(data_dir: Path) -> None:
    """An empty catalog.sqlite (a worker creating it, or one that stopped while it did) and a
    file that is no database gave DuckLake's own words ('creating a new DuckLake is
    explicitly disabled', 'Failed to probe DuckLake metadata')."""
    catalog = data_dir / "warehouse" / "catalog.sqlite"
    catalog.parent.mkdir()
    catalog.touch()
    result = run_sql("SELECT 1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: no warehouse in sqlite:{catalog.resolve()} yet (its catalog is empty: a worker "
        "is creating it, or stopped while it did); start the worker or run `make run` first"
    )
    with closing(sqlite3.connect(catalog)) as other:  # some other SQLite database
        other.execute("CREATE TABLE t (x)")
    result = run_sql("SELECT 1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: sqlite:{catalog.resolve()} is not a warehouse catalog (an SQLite database "
        "without DuckLake's tables): check CALLSTREAM_CATALOG, or move the file away and start "
        "the worker for a new warehouse"
    )
    with pytest.raises(WarehouseError, match="is not a warehouse catalog"):
        Warehouse.open(Settings(data_dir=data_dir))  # a writer would have added its tables
    with closing(sqlite3.connect(catalog)) as other:
        assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
    catalog.write_text("not a database\n" * 100)
    result = run_sql("SELECT 1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: sqlite:{catalog.resolve()} is not a warehouse catalog (not an SQLite "
        "database): restore it from a backup, or move it away and start the worker for a new "
        "warehouse"
    )


def test_help() -> None:
    result = run_sql("--help")
    assert result.exit_code == 0
    assert "--format [table|csv|json]" in result.stdout and "--snapshot" in result.stdout


def test_answers_while_another_process_writes(data_dir: Path) -> None:
    """A writer process commits batches in a loop; every `callstream sql` meanwhile answers,
    the counts only grow, it sees commits as they land, and finally sees them all."""
    Warehouse.open(Settings(data_dir=data_dir)).close()
    counts = counts_while_writing(data_dir, 8, 250, 0.15, sql_count)
    final = json.loads(run_sql("--format", "json", "SELECT count(*) AS n FROM calls").stdout)
    assert final == [{"n": 2000}]
    assert counts == sorted(counts)
    assert all(n % 250 == 0 for n in counts)  # whole batches only: commits are atomic
    assert len({n for n in counts if 0 < n < 2000}) >= 2  # saw commits while they happened


def test_awkward_results_still_print(filled: Path) -> None:
    query = "SELECT 1 AS a, 2 AS a, [1, 2] AS l, {'x': 1} AS s, INTERVAL 3 MINUTE AS i"
    as_csv = run_sql("--format", "csv", query)
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.DictReader(io.StringIO(as_csv.stdout))) == [
        {"a": "1", "a_1": "2", "l": "[1,2]", "s": '{"x":1}', "i": "00:03:00"}
    ]
    as_json = run_sql("--format", "json", query)
    assert json.loads(as_json.stdout)[0] | {"i": None} == {
        "a": 1, "a_1": 2, "l": [1, 2], "s": {"x": 1}, "i": None
    }  # fmt: skip
    assert run_sql(query).exit_code == 0


def test_every_duckdb_type_prints_in_csv_and_json(filled: Path) -> None:
    """Values polars could not carry (a HUGEINT beyond 64 bits, a BLOB in JSON) print too;
    times are DuckDB's ISO 8601 text and JSON stays strict (no NaN)."""
    query = (
        "SELECT 170141183460469231731687303715884105727::HUGEINT AS h, 'ab'::BLOB AS b, "
        "'nan'::DOUBLE AS nan, 1.50::DECIMAL(10, 2) AS d, true AS t, "
        "TIMESTAMPTZ '2026-08-03 08:00:01.5+00' AS tz, TIMESTAMP '2026-08-03 08:00:00' AS ts, "
        "[DATE '2026-08-03'] AS days"
    )
    as_csv = run_sql("--format", "csv", query)
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.DictReader(io.StringIO(as_csv.stdout))) == [
        {"h": "170141183460469231731687303715884105727", "b": "6162", "nan": "nan",
         "d": "1.50", "t": "true", "tz": "2026-08-03 08:00:01.5+00",
         "ts": "2026-08-03 08:00:00", "days": '["2026-08-03"]'}
    ]  # fmt: skip
    as_json = run_sql("--format", "json", query)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout, parse_constant=_refuse) == [
        {"h": 170141183460469231731687303715884105727, "b": "6162", "nan": None, "d": 1.5,
         "t": True, "tz": "2026-08-03 08:00:01.5+00", "ts": "2026-08-03 08:00:00",
         "days": ["2026-08-03"]}
    ]  # fmt: skip


def _refuse(constant: str) -> None:
    raise AssertionError(f"not strict JSON: {constant}")


def test_json_keeps_names_that_differ_in_case_and_nulls_nan_at_any_depth(filled: Path) -> None:
    query = (
        "SELECT 1 AS \"UPPER\", 2 AS upper, {'k': 'nan'::DOUBLE, 'NaN': 'NaN'} AS s, "
        "['-inf'::DOUBLE, 1.5] AS l"
    )
    result = run_sql("--format", "json", query)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout, parse_constant=_refuse) == [
        {"UPPER": 1, "upper": 2, "s": {"k": None, "NaN": "NaN"}, "l": [None, 1.5]}
    ]


def test_csv_cells_with_commas_quotes_and_line_breaks_read_back_whole(filled: Path) -> None:
    query = (
        "SELECT * FROM (VALUES ('a,b', 'say \"hi\"', 'two\nlines', NULL, ''), "
        "('plain', 'x', 'cr\r', 'y', 'z')) AS t (a, b, c, d, e)"
    )
    result = run_sql("--format", "csv", query)
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["a", "b", "c", "d", "e"],
        ["a,b", 'say "hi"', "two\nlines", "", ""],
        ["plain", "x", "cr\r", "y", "z"],
    ]
    lone = run_sql("--format", "csv", "SELECT * FROM (VALUES (NULL), ('')) AS t (a)")
    assert lone.stdout.splitlines() == ["a", '""', '""']  # no blank line for an empty cell


def test_a_result_larger_than_a_batch_streams_out_whole(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSTREAM_SQL_BATCH_ROWS", "3")
    query = "SELECT i, i * 2 AS twice FROM range(10) AS t (i) ORDER BY i"
    as_csv = run_sql("--format", "csv", query)
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout.splitlines() == ["i,twice", *(f"{i},{2 * i}" for i in range(10))]
    as_json = run_sql("--format", "json", query)
    assert json.loads(as_json.stdout) == [{"i": i, "twice": 2 * i} for i in range(10)]
    empty = run_sql("--format", "json", "SELECT 1 AS x WHERE false")
    assert (empty.exit_code, json.loads(empty.stdout)) == (0, [])


def test_attach_script_lets_the_plain_duckdb_cli_read_while_a_process_writes(
    data_dir: Path,
) -> None:
    """What the README tells an analyst: `callstream sql --attach-script > attach.sql`, then
    the plain `duckdb` CLI (PyPI duckdb-cli, same version) reads the views, offline, while a
    writer process commits."""
    duckdb_cli = Path(sys.executable).with_name("duckdb")
    assert duckdb_cli.exists(), "duckdb-cli is a dependency: reinstall callstream"
    Warehouse.open(Settings(data_dir=data_dir)).close()
    script = run_sql("--attach-script")
    assert script.exit_code == 0, script.output
    attach = data_dir.parent / "attach.sql"
    attach.write_text(script.stdout)
    assert "READ_ONLY" in script.stdout and "INSTALL" not in script.stdout

    counts = counts_while_writing(data_dir, 6, 100, 0.4, lambda: plain_duckdb_count(attach))
    assert plain_duckdb_count(attach) == 600
    assert counts == sorted(counts) and all(n % 100 == 0 for n in counts)
    assert len({n for n in counts if 0 < n < 600}) >= 2  # read while the writer committed


def test_attach_script_offers_unsigned_only_where_the_extensions_are_private(
    filled: Path,
) -> None:
    """The script's header offers `duckdb -unsigned` (no signature check, as callstream itself
    skips it) only while nobody else can change the extension files, and that command reads."""
    script = run_sql("--attach-script")
    assert script.exit_code == 0, script.output
    assert "duckdb -unsigned -init FILE" in script.stdout
    attach = filled.parent / "attach.sql"
    attach.write_text(script.stdout)
    assert plain_duckdb_count(attach, "-unsigned") == 2
    (filled / "duckdb_extensions").chmod(0o770)  # a group may now change them
    shared = run_sql("--attach-script")
    assert shared.exit_code == 0 and "-unsigned" not in shared.stdout, shared.output


def plain_duckdb_count(attach: Path, *flags: str) -> int:
    """``SELECT count(*) FROM calls`` in the plain duckdb CLI started with ``attach``."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("duckdb")), *flags, "-init", str(attach),
         "-csv", "-noheader", "-c", "SELECT count(*) FROM calls"],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_attach_script_or_query_not_both(filled: Path) -> None:
    result = run_sql("--attach-script", "SELECT 1")
    assert result.exit_code == 2 and "not both" in result.stderr
    result = run_sql()
    assert result.exit_code == 2 and "give a QUERY" in result.stderr


def test_explain_analyze_copy_cannot_overwrite_the_catalog(filled: Path) -> None:
    """Issue 11 case 5: on main this overwrote catalog.sqlite and the warehouse was lost."""
    catalog = filled / "warehouse" / "catalog.sqlite"
    before = catalog.read_bytes()
    result = run_sql(f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{catalog}' (FORMAT csv)")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: the warehouse is read-only here: only queries can run, not EXPLAIN of COPY"
    )
    assert catalog.read_bytes() == before
    assert sql_count() == 2


@pytest.mark.parametrize(
    "query",
    [
        "EXPLAIN ANALYZE SELECT count(*) FROM calls",
        "EXPLAIN ANALYZE (SELECT 1)",
        "EXPLAIN (FORMAT json) SELECT 1",
        "SUMMARIZE calls",
        "PRAGMA version",
        "FROM calls",
        "FROM lake.snapshots()",
        "SELECT count(*) FROM ducklake_table_info('lake')",
        "SELECT 'sqlite_scan(' AS text -- query(",
        "WITH query AS (SELECT 1 AS query) SELECT query FROM query",
    ],
)
def test_queries_in_every_form_still_run(filled: Path, query: str) -> None:
    result = run_sql("--format", "csv", query)
    assert result.exit_code == 0, result.output


def test_no_query_deletes_a_file_or_reads_another_database(filled: Path, tmp_path: Path) -> None:
    """DuckLake's cleanup deletes Parquet files through a read-only attach, and the sqlite
    scanner opens any SQLite file past enable_external_access (both seen, DuckDB 1.5.5): a
    query calling either is refused before it runs."""
    import sqlite3

    secret = tmp_path / "secret.sqlite"
    with sqlite3.connect(secret) as db:
        db.execute("CREATE TABLE s (x TEXT)")
        db.execute("INSERT INTO s VALUES ('not for callstream sql')")
    files = sorted(p.name for p in (filled / "warehouse").rglob("*") if p.is_file())
    for query, called in (
        (f"SELECT * FROM sqlite_scan('{secret}', 's')", "sqlite_scan"),
        ("SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)",
         "ducklake_cleanup_old_files"),
        ("SELECT * FROM ducklake_delete_orphaned_files('lake', cleanup_all => true)",
         "ducklake_delete_orphaned_files"),
    ):  # fmt: skip
        result = run_sql(query)
        assert result.exit_code == 1
        assert f"may not call {called}()" in result.stderr
        assert "not for callstream sql" not in result.output
    assert sorted(p.name for p in (filled / "warehouse").rglob("*") if p.is_file()) == files
    assert sql_count() == 2


def test_a_locked_down_connection_writes_no_file_even_if_asked(filled: Path) -> None:
    """The second layer, should a statement ever pass the first: DuckDB itself refuses."""
    import duckdb

    with Warehouse.open(Settings(data_dir=filled), read_only=True) as warehouse:
        warehouse.lock_down()
        assert warehouse.query("SELECT count(*) AS n FROM calls")["n"][0] == 2
        for statement in (
            f"COPY (SELECT 1) TO '{filled / 'out.csv'}'",
            "SET enable_external_access = true",
            f"ATTACH '{filled / 'other.db'}' AS other",
            "INSERT INTO classified_calls SELECT * FROM classified_calls",
        ):
            with pytest.raises(duckdb.Error):
                warehouse.conn.execute(statement)
    assert not (filled / "out.csv").exists() and not (filled / "other.db").exists()
