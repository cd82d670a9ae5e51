"""The DuckLake warehouse on disk: migrations, the calls MERGE, cbt_daily, snapshots, upkeep."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from pipeline_support import free_port
from warehouse_support import make_call

from models.classified import ClassifiedCall
from streams.settings import Settings
from streams.warehouse import maintenance, sqlfiles
from streams.warehouse.connect import WarehouseError
from streams.warehouse.store import AGGREGATES, CALL_SCHEMA, Warehouse, calls_frame, refuses_data

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def warehouse(settings: Settings) -> Warehouse:
    opened = Warehouse.open(settings)
    yield opened
    opened.close()


def rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query(sql).to_dicts()


def test_migrations_are_applied_once_and_recorded(settings: Settings) -> None:
    expected = [(m.version, m.name) for m in sqlfiles.migrations()]
    assert expected and expected[0][0] == 1
    with Warehouse.open(settings) as first:
        assert first.migrate() == []  # open already applied everything
    with Warehouse.open(settings) as second:
        recorded = second.query("SELECT version, name FROM schema_migrations ORDER BY version")
        assert list(recorded.iter_rows()) == expected


def test_a_new_migration_is_applied_on_the_next_open(warehouse: Warehouse, tmp_path: Path) -> None:
    root = tmp_path / "sql"
    (root / "migrations").mkdir(parents=True)
    for migration in sqlfiles.migrations():
        (root / "migrations" / migration.path.name).write_text(migration.text)
    (root / "migrations" / "999_probe.sql").write_text("CREATE TABLE probe (x INTEGER);")
    assert warehouse.migrate(root) == ["999_probe"]
    assert warehouse.migrate(root) == []
    assert rows(warehouse, "SELECT count(*) AS n FROM probe") == [{"n": 0}]


def test_a_failing_migration_is_named_and_not_recorded(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "998_broken.sql").write_text("CREATE TABLE broken (x NOTATYPE);")
    with pytest.raises(WarehouseError, match="998_broken.sql"):
        warehouse.migrate(tmp_path)
    versions = warehouse.query("SELECT version FROM schema_migrations")["version"].to_list()
    assert 998 not in versions


def test_misnamed_migration_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "7_calls.sql").write_text("SELECT 1")
    with pytest.raises(sqlfiles.SqlFileError, match="7_calls.sql"):
        sqlfiles.migrations(tmp_path)


def test_views_are_created_whatever_their_file_order(warehouse: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "a_top.sql").write_text("-- uses b\nSELECT n + 1 AS n FROM b_middle;\n")
    (tmp_path / "views" / "b_middle.sql").write_text("SELECT n * 10 AS n FROM c_base")
    (tmp_path / "views" / "c_base.sql").write_text("SELECT 4 AS n")
    assert warehouse.create_views(tmp_path) == ["c_base", "b_middle", "a_top"]
    assert rows(warehouse, "SELECT n FROM a_top") == [{"n": 41}]


def test_dependency_order_ignores_comments_and_survives_cycles(tmp_path: Path) -> None:
    def view(name: str, text: str) -> sqlfiles.SqlFile:
        return sqlfiles.SqlFile(name, tmp_path / f"{name}.sql", text)

    files = [
        view("a", "-- not from c\nSELECT * FROM b"),
        view("b", "SELECT 1 AS n"),
        view("c", "SELECT * FROM d"),
        view("d", "SELECT * FROM c"),
    ]
    assert [f.name for f in sqlfiles.dependency_order(files)] == ["b", "a", "c", "d"]


def test_a_view_that_cannot_be_created_is_named(warehouse: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "good.sql").write_text("SELECT 1 AS n")
    (tmp_path / "views" / "bad.sql").write_text("SELECT * FROM no_such_table")
    with pytest.raises(WarehouseError, match=r"bad\.sql"):
        warehouse.create_views(tmp_path)


def test_query_returns_polars_through_arrow_with_the_types_readers_expect(
    warehouse: Warehouse,
) -> None:
    frame = warehouse.query(
        "SELECT 1 AS a, 2 AS a, sum(x) AS s, INTERVAL 3 MINUTE AS wait, [INTERVAL 1 DAY] AS l, "
        "1.5::DECIMAL(4, 2) AS d, DATE '2026-08-03' AS day FROM range(3) AS t (x)"
    )
    assert frame.columns == ["a", "a_1", "s", "wait", "l", "d", "day"]
    assert frame.schema["s"] == pl.Int64 and frame.schema["wait"] == pl.Duration("us")
    assert frame.row(0) == (
        1,
        2,
        3,
        timedelta(minutes=3),
        "[1 day]",
        Decimal("1.50"),
        date(2026, 8, 3),
    )
    assert warehouse.query("SELECT 1 AS n WHERE false").schema == {"n": pl.Int32}
    assert warehouse.query("SET threads = 2").is_empty()  # a statement with no result


def test_calls_view_has_the_contract_columns_in_order(warehouse: Warehouse) -> None:
    columns = warehouse.query("SELECT * FROM calls LIMIT 0").columns
    assert columns == [*ClassifiedCall.model_fields, "ingested_at", "updated_at"]


def test_merge_round_trips_every_field(warehouse: Warehouse) -> None:
    answered = make_call("c1")
    outbound = make_call(
        "c2",
        inbound=False,
        outcome=None,
        wait_s=None,
        wait_bucket=None,
        talk_s=None,
        duration_bucket=None,
        request_type=None,
        first_team=None,
        routing="unrouted",
        caller_key=None,
        callback_answered=None,
        ended_at=None,
        complete=False,
    )
    callback = make_call(
        "c3",
        outcome="callback_requested",
        callback_made=True,
        callback_answered=False,
        callback_wait_s=1800,
        divert_target="pharmacy",
        transfers=2,
    )
    assert warehouse.merge_calls([answered, outbound, callback]) == 3
    stored = rows(warehouse, "SELECT * FROM calls ORDER BY call_id")
    for original, row in zip([answered, outbound, callback], stored, strict=True):
        assert row["ingested_at"] is not None and row["updated_at"] == row["ingested_at"]
        del row["ingested_at"], row["updated_at"]
        assert ClassifiedCall(**row) == original


def test_replaying_a_batch_changes_nothing(warehouse: Warehouse) -> None:
    batch = [make_call(f"c{i}") for i in range(50)]
    assert warehouse.merge_calls(batch) == 50
    before = rows(warehouse, "SELECT * FROM calls ORDER BY call_id")
    snapshot = warehouse.snapshot()
    assert warehouse.merge_calls(batch) == 0
    assert rows(warehouse, "SELECT * FROM calls ORDER BY call_id") == before
    assert warehouse.snapshot().id == snapshot.id  # not even an empty commit


def test_a_late_correction_replaces_the_row(warehouse: Warehouse) -> None:
    open_call = make_call("c1", complete=False, ended_at=None, talk_s=None, duration_bucket=None)
    warehouse.merge_calls([open_call, make_call("c2")])
    first = rows(warehouse, "SELECT * FROM calls WHERE call_id = 'c1'")[0]
    corrected = make_call("c1", talk_s=400, duration_bucket="over 5 minutes")
    assert warehouse.merge_calls([corrected, make_call("c2")]) == 1
    stored = rows(warehouse, "SELECT * FROM calls WHERE call_id = 'c1'")
    assert len(stored) == 1
    row = stored[0]
    assert (row["complete"], row["talk_s"], row["duration_bucket"]) == (
        True,
        400,
        "over 5 minutes",
    )
    assert row["ingested_at"] == first["ingested_at"]
    assert row["updated_at"] > first["updated_at"]
    assert rows(warehouse, "SELECT count(*) AS n FROM calls") == [{"n": 2}]


def test_an_older_copy_of_a_call_never_replaces_a_newer_one(warehouse: Warehouse) -> None:
    """A writer whose partition moved on may commit a batch it took earlier: the copy built
    from fewer events (older) is skipped, one with as many or more is taken."""
    newer = make_call("c1", callback_made=True, events=7)
    older = make_call("c1", callback_made=False, events=6)
    warehouse.merge_calls([newer])
    assert warehouse.merge_calls([older]) == 0
    assert rows(warehouse, "SELECT callback_made, events FROM calls") == [
        {"callback_made": True, "events": 7}
    ]
    assert rows(warehouse, "SELECT value FROM cbt_daily WHERE indicator = 'CBT001'") == [
        {"value": 1}
    ]
    reclassified = make_call("c1", callback_made=True, events=7, rules_version="2026.2")
    assert warehouse.merge_calls([reclassified]) == 1


def test_a_call_twice_in_one_batch_keeps_the_last_copy(warehouse: Warehouse) -> None:
    batch = [
        make_call("c1", outcome="missed", talk_s=None, duration_bucket=None),
        make_call("c2"),
        make_call("c1", callback_made=True, outcome="callback_requested"),
    ]
    assert warehouse.merge_calls(batch) == 2
    stored = rows(warehouse, "SELECT call_id, outcome, callback_made FROM calls ORDER BY call_id")
    assert stored == [
        {"call_id": "c1", "outcome": "callback_requested", "callback_made": True},
        {"call_id": "c2", "outcome": "answered", "callback_made": False},
    ]


def test_merge_leaves_no_staging_files_and_open_clears_old_ones(settings: Settings) -> None:
    with Warehouse.open(settings) as warehouse:
        warehouse.merge_calls([make_call("c1")])
        staging = settings.warehouse_dir / "staging"
        assert list(staging.iterdir()) == []
        old = staging / "batch-left-by-a-killed-writer.parquet"
        old.write_bytes(b"partial")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        live = staging / "batch-of-another-writer-now.parquet"
        live.write_bytes(b"in use")
    Warehouse.open(settings).close()
    assert list(staging.iterdir()) == [live]


def test_same_call_id_at_two_practices_is_two_calls(warehouse: Warehouse) -> None:
    assert warehouse.merge_calls([make_call("c1"), make_call("c1", practice="B54321")]) == 2
    assert rows(warehouse, "SELECT count(*) AS n FROM calls") == [{"n": 2}]


def test_every_classified_call_field_is_staged_merged_and_stored() -> None:
    """A field added to ClassifiedCall must reach the warehouse, not be dropped silently."""
    fields = list(ClassifiedCall.model_fields)
    assert list(CALL_SCHEMA) == fields
    merge = sqlfiles.read("warehouse/merge_calls.sql")
    table = "\n".join(migration.text for migration in sqlfiles.migrations())
    calls_view = sqlfiles.read("views/calls.sql")
    for field in fields:
        assert f"s.{field}" in merge, field
        assert re.search(rf"^\s+{field}\s", table, re.MULTILINE), field
        assert re.search(rf"^\s+{field},$", calls_view, re.MULTILINE), field


def test_calls_frame_keeps_the_last_copy_in_first_position() -> None:
    frame = calls_frame([make_call("a", wait_s=1), make_call("b"), make_call("a", wait_s=2)])
    assert frame["call_id"].to_list() == ["a", "b"]
    assert frame["wait_s"].to_list() == [2, 42]


def test_cbt_daily_matches_hand_counts(warehouse: Warehouse) -> None:
    not_answered = dict(talk_s=None, duration_bucket=None, first_team=None, routing="unrouted")
    ten_am = dict(
        started_at=datetime(2026, 8, 3, 9, 15, tzinfo=UTC),
        time_band="10:00-11:59",
        core_category="Core_10_1830",
    )
    calls = [
        # A12345, 08:00-09:59: 7 inbound calls and one outbound
        make_call("a1"),
        make_call("a2", complete=False, ended_at=None, talk_s=None, duration_bucket=None),
        make_call("m1", outcome="missed", **not_answered),  # e.g. voicemail
        make_call("i1", outcome="ended_in_ivr", wait_s=None, wait_bucket=None, **not_answered),
        make_call("cb1", outcome="callback_requested", callback_made=True, **not_answered),
        make_call("cb2", outcome="callback_requested", callback_made=False, **not_answered),
        make_call(
            "cb3", outcome="callback_requested", callback_made=True, complete=False, **not_answered
        ),
        make_call("o1", inbound=False, outcome=None, wait_s=None, wait_bucket=None),
        # A12345, 10:00-11:59: one missed call
        make_call("m2", outcome="missed", **not_answered, **ten_am),
        # B54321, 08:00-09:59: one answered, one outbound only band elsewhere
        make_call("b1", practice="B54321"),
        make_call(
            "o2",
            practice="B54321",
            inbound=False,
            outcome=None,
            started_at=datetime(2026, 8, 3, 13, 0, tzinfo=UTC),
            time_band="14:00-15:59",
            core_category="Core_10_1830",
        ),
    ]
    warehouse.merge_calls(calls)
    got = {
        (r["practice"], r["time_band"], r["indicator"]): (r["value"], r["incomplete"])
        for r in rows(warehouse, "SELECT * FROM cbt_daily")
    }
    expected = {
        ("A12345", "08:00-09:59", "CBT001"): (7, 2),
        ("A12345", "08:00-09:59", "CBT002"): (1, 0),
        ("A12345", "08:00-09:59", "CBT003"): (2, 1),
        ("A12345", "08:00-09:59", "CBT004"): (1, 0),
        ("A12345", "08:00-09:59", "CBT005"): (3, 1),
        ("A12345", "08:00-09:59", "CBT006"): (2, 1),
        ("A12345", "08:00-09:59", "CBT007"): (2, 1),
        ("A12345", "10:00-11:59", "CBT001"): (1, 0),
        ("A12345", "10:00-11:59", "CBT002"): (0, 0),
        ("A12345", "10:00-11:59", "CBT003"): (0, 0),
        ("A12345", "10:00-11:59", "CBT004"): (1, 0),
        ("A12345", "10:00-11:59", "CBT005"): (0, 0),
        ("A12345", "10:00-11:59", "CBT006"): (0, 0),
        ("A12345", "10:00-11:59", "CBT007"): (0, 0),
        ("B54321", "08:00-09:59", "CBT001"): (1, 0),
        ("B54321", "08:00-09:59", "CBT002"): (0, 0),
        ("B54321", "08:00-09:59", "CBT003"): (1, 0),
        ("B54321", "08:00-09:59", "CBT004"): (0, 0),
        ("B54321", "08:00-09:59", "CBT005"): (0, 0),
        ("B54321", "08:00-09:59", "CBT006"): (0, 0),
        ("B54321", "08:00-09:59", "CBT007"): (1, 0),
    }
    assert got == expected
    dates = warehouse.query("SELECT DISTINCT local_date FROM cbt_daily")["local_date"].to_list()
    assert dates == [date(2026, 8, 3)]


def test_a_correction_that_moves_a_call_to_another_day_recounts_both_days(
    warehouse: Warehouse,
) -> None:
    warehouse.merge_calls([make_call("c1"), make_call("c2")])
    moved = make_call(
        "c1", started_at=datetime(2026, 8, 4, 7, 30, tzinfo=UTC), local_date=date(2026, 8, 4)
    )
    warehouse.merge_calls([moved])
    got = {
        (str(r["local_date"]), r["indicator"]): r["value"]
        for r in rows(warehouse, "SELECT * FROM cbt_daily WHERE indicator IN ('CBT001', 'CBT003')")
    }
    assert got == {
        ("2026-08-03", "CBT001"): 1,
        ("2026-08-03", "CBT003"): 1,
        ("2026-08-04", "CBT001"): 1,
        ("2026-08-04", "CBT003"): 1,
    }


def test_bucket_facts_count_waits_and_talk_and_follow_corrections(warehouse: Warehouse) -> None:
    """CBT003/CBT004 by wait bucket and CBT007 by talk bucket, per band and core category; a
    correction that moves a call to another day and bucket recounts both days."""
    missed = dict(outcome="missed", talk_s=None, duration_bucket=None, first_team=None)
    warehouse.merge_calls(
        [
            make_call("a1"),
            make_call(
                "a2", wait_s=400, wait_bucket=">300", talk_s=30, duration_bucket="1 minute or less"
            ),
            make_call("a3", complete=False, ended_at=None, talk_s=None, duration_bucket=None),
            make_call("m1", **missed, routing="unrouted"),
            make_call("m2", **missed, routing="unrouted", wait_s=None, wait_bucket=None),
            make_call("i1", outcome="ended_in_ivr", wait_s=None, wait_bucket=None, **_no_talk),
            make_call("o1", inbound=False, outcome=None, wait_s=None, wait_bucket=None),
        ]
    )
    query = (
        "SELECT local_date, indicator, bucket, value, incomplete FROM cbt_bucket_facts ORDER BY ALL"
    )
    day = date(2026, 8, 3)
    assert [tuple(r.values()) for r in rows(warehouse, query)] == [
        (day, "CBT003", "31_60", 2, 1),
        (day, "CBT003", ">300", 1, 0),
        (day, "CBT004", "31_60", 1, 0),
        (day, "CBT004", None, 1, 0),  # missed with no end yet: no wait, counted all the same
        (day, "CBT007", "1 minute or less", 1, 0),
        (day, "CBT007", "1 to 2 minutes", 1, 0),
        (day, "CBT007", None, 1, 1),  # answered, not ended: no talk time yet
    ]
    kinds = rows(
        warehouse,
        "SELECT DISTINCT indicator, bucket_kind, time_band, core_category "
        "FROM cbt_bucket_facts ORDER BY ALL",
    )
    assert [(r["indicator"], r["bucket_kind"]) for r in kinds] == [
        ("CBT003", "wait"),
        ("CBT004", "wait"),
        ("CBT007", "duration"),
    ]
    assert {(r["time_band"], r["core_category"]) for r in kinds} == {("08:00-09:59", "Core_8_10")}
    moved = make_call(
        "a1",
        started_at=datetime(2026, 8, 4, 7, 30, tzinfo=UTC),
        local_date=date(2026, 8, 4),
        wait_s=0,
        wait_bucket="0",
    )
    warehouse.merge_calls([moved])
    got = rows(warehouse, query + " LIMIT 100")
    assert [tuple(r.values()) for r in got if r["indicator"] == "CBT003"] == [
        (day, "CBT003", "31_60", 1, 1),
        (day, "CBT003", ">300", 1, 0),
        (date(2026, 8, 4), "CBT003", "0", 1, 0),
    ]


_no_talk = dict(talk_s=None, duration_bucket=None, first_team=None, routing="unrouted")


def test_aggregates_are_rebuilt_when_missing_or_their_sql_changed(
    warehouse: Warehouse, settings: Settings
) -> None:
    warehouse.merge_calls([make_call(f"c{i}", outcome="missed") for i in range(3)])
    expected = rows(warehouse, "SELECT * FROM cbt_daily ORDER BY ALL")
    assert warehouse.rebuild_aggregates() == []  # up to date
    # an upgrade from a warehouse without them: no facts, no version recorded
    warehouse.conn.execute("DELETE FROM cbt_daily_facts")
    warehouse.conn.execute("DELETE FROM aggregate_versions")
    warehouse.close()
    with Warehouse.open(settings) as reopened:
        assert rows(reopened, "SELECT * FROM cbt_daily ORDER BY ALL") == expected
        reopened.conn.execute("UPDATE aggregate_versions SET sql_hash = 'older'")
        assert reopened.rebuild_aggregates() == list(AGGREGATES)
        assert rows(reopened, "SELECT * FROM cbt_daily ORDER BY ALL") == expected


def test_read_only_open_rejects_writes(warehouse: Warehouse, settings: Settings) -> None:
    warehouse.merge_calls([make_call("c1")])
    with Warehouse.open(settings, read_only=True) as reader:
        assert rows(reader, "SELECT count(*) AS n FROM calls") == [{"n": 1}]
        with pytest.raises(WarehouseError, match="read-only"):
            reader.merge_calls([make_call("c2")])
        with pytest.raises(duckdb.Error, match="read-only"):
            reader.conn.execute("DELETE FROM classified_calls")
    assert rows(warehouse, "SELECT count(*) AS n FROM calls") == [{"n": 1}]


def catalog_journal_mode(settings: Settings) -> str:
    with closing(sqlite3.connect(settings.warehouse_dir / "catalog.sqlite")) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    return str(mode)


def test_the_sqlite_catalog_is_kept_in_wal_mode(settings: Settings) -> None:
    with Warehouse.open(settings) as warehouse:
        warehouse.merge_calls([make_call("c1")])
    assert catalog_journal_mode(settings) == "wal"
    with closing(sqlite3.connect(settings.warehouse_dir / "catalog.sqlite")) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # a catalog made by an older version
    assert catalog_journal_mode(settings) == "delete"
    with Warehouse.open(settings) as warehouse:
        assert rows(warehouse, "SELECT call_id FROM calls") == [{"call_id": "c1"}]
    assert catalog_journal_mode(settings) == "wal"


HOLD_A_READ = """
import sqlite3, sys
reader = sqlite3.connect(sys.argv[1], isolation_level=None)
reader.execute("BEGIN")
latest = "SELECT max(snapshot_id) FROM ducklake_snapshot"
print(reader.execute(latest).fetchone()[0], flush=True)
sys.stdin.readline()
print(reader.execute(latest).fetchone()[0], flush=True)
reader.execute("COMMIT")
print(reader.execute(latest).fetchone()[0], flush=True)
"""


def test_a_reader_in_the_middle_of_a_read_does_not_hold_off_a_commit(
    warehouse: Warehouse, settings: Settings
) -> None:
    """In SQLite's rollback-journal mode another process's open read of the catalog blocks
    the writer's commit (measured: the commit then failed "database is locked" after 72 s,
    the reader long gone); an analyst's long read must not stall the worker."""
    warehouse.merge_calls([make_call("c1")])
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_READ, str(settings.warehouse_dir / "catalog.sqlite")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        before = int(reader.stdout.readline())  # the reader is inside its read transaction
        done = threading.Event()
        errors: list[BaseException] = []

        def commit() -> None:
            try:
                warehouse.merge_calls([make_call("c2")])
            except BaseException as exc:  # reported below
                errors.append(exc)
            done.set()

        threading.Thread(target=commit, daemon=True).start()
        assert done.wait(30), "the commit still waits on another process's open read after 30 s"
        assert not errors, errors
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert int(reader.stdout.readline()) == before  # its snapshot of the catalog holds
        assert int(reader.stdout.readline()) > before  # and it sees the commit after
    finally:
        reader.kill()
        reader.wait()
    assert rows(warehouse, "SELECT count(*) AS n FROM calls") == [{"n": 2}]


def test_read_only_open_of_a_missing_warehouse_says_what_to_do(settings: Settings) -> None:
    with pytest.raises(WarehouseError, match=r"no warehouse at .*start the worker or run"):
        Warehouse.open(settings, read_only=True)
    assert not settings.warehouse_dir.exists()  # a reader never creates one


def test_open_at_a_snapshot_sees_the_data_as_of_then(
    warehouse: Warehouse, settings: Settings
) -> None:
    warehouse.merge_calls([make_call("c1"), make_call("c2")])
    then = warehouse.snapshot()
    warehouse.merge_calls([make_call("c3"), make_call("c1", outcome="missed")])
    assert warehouse.snapshot().id > then.id
    with Warehouse.open(settings, snapshot=then.id) as past:
        assert past.snapshot() == then
        assert rows(past, "SELECT call_id, outcome FROM calls ORDER BY call_id") == [
            {"call_id": "c1", "outcome": "answered"},
            {"call_id": "c2", "outcome": "answered"},
        ]
    with pytest.raises(WarehouseError, match="no snapshot 999999"):
        Warehouse.open(settings, snapshot=999_999)


def test_pin_reads_a_snapshot_on_the_connection_that_read_the_latest(
    warehouse: Warehouse, settings: Settings
) -> None:
    """What `dashboards serve` does with its probe: read the latest snapshot, then pin the
    same connection at it (no second open); later commits are not seen. And the writer
    commits while the reader is open: opening it leaves no read transaction on the SQLite
    catalog (it did: "database is locked" until the reader ran another statement)."""
    warehouse.merge_calls([make_call("c1")])
    then = warehouse.snapshot()
    with Warehouse.open(settings, read_only=True) as reader:
        warehouse.merge_calls([make_call("c2")])
        assert rows(reader, "SELECT count(*) AS n FROM calls") == [{"n": 2}]
        reader.pin(then.id)
        assert reader.snapshot() == then
        warehouse.merge_calls([make_call("c3")])
        assert rows(reader, "SELECT call_id FROM calls") == [{"call_id": "c1"}]
        with pytest.raises(WarehouseError, match="no snapshot 999999"):
            reader.pin(999_999)


def test_compact_and_expire_keep_the_data_in_fewer_files(
    warehouse: Warehouse, settings: Settings
) -> None:
    for batch in range(6):
        warehouse.merge_calls([make_call(f"c{batch}-{i}") for i in range(40)])
    warehouse.merge_calls([make_call("c0-0", outcome="missed"), make_call("c5-1", wait_s=7)])
    files = "SELECT count(*) AS n FROM ducklake_list_files('lake', 'classified_calls')"
    before = rows(warehouse, "SELECT * FROM calls ORDER BY call_id")
    files_before = rows(warehouse, files)[0]["n"]
    snapshots_before = rows(warehouse, "SELECT count(*) AS n FROM lake.snapshots()")[0]["n"]
    warehouse.compact()
    warehouse.expire_snapshots(0)
    assert rows(warehouse, "SELECT * FROM calls ORDER BY call_id") == before
    assert rows(warehouse, files)[0]["n"] < files_before
    tables = settings.warehouse_dir / "files"  # partitioned by day: local_date=.../*.parquet
    on_disk = {str(p) for p in tables.rglob("*.parquet") if "/classified_calls/" in str(p)}
    listed = rows(warehouse, "FROM ducklake_list_files('lake', 'classified_calls')")
    in_use = ({r["data_file"] for r in listed} | {r["delete_file"] for r in listed}) - {None}
    assert on_disk == in_use  # files of expired snapshots were deleted
    assert rows(warehouse, "SELECT count(*) AS n FROM lake.snapshots()")[0]["n"] < snapshots_before
    warehouse.compact()  # nothing left to do is fine
    assert rows(warehouse, "SELECT * FROM calls ORDER BY call_id") == before


def test_a_reader_process_sees_each_commit_of_the_writer(
    warehouse: Warehouse, settings: Settings
) -> None:
    """The writer keeps its connection; a separate process attaches read-only after each
    commit and must see exactly the calls committed so far."""
    reader = textwrap.dedent(
        """
        import sys
        from streams.settings import Settings
        from streams.warehouse.store import Warehouse
        with Warehouse.open(Settings(data_dir=sys.argv[1]), read_only=True) as w:
            print(w.query("SELECT count(*) AS n FROM calls")["n"][0])
        """
    )
    for batch in range(3):
        warehouse.merge_calls([make_call(f"c{batch}-{i}") for i in range(100)])
        seen = subprocess.run(
            [sys.executable, "-c", reader, str(settings.data_dir)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert int(seen.stdout) == 100 * (batch + 1)


def test_merges_succeed_while_another_process_writes_reference_data(
    warehouse: Warehouse, settings: Settings
) -> None:
    """`callstream reference load` writes while the worker merges: neither may fail."""
    other = textwrap.dedent(
        """
        import sys
        from streams.settings import Settings
        from streams.warehouse.store import Warehouse
        def load(b, j):  # as `reference load` writes: one write_transaction, redone if busy
            return lambda conn: conn.execute(
                "INSERT INTO ods_practices (extract_date, practice, source_file, "
                "loaded_at) VALUES (DATE '2026-08-01', ?, 'probe', now())",
                [f"X{b}{j:04d}"],
            )
        for b in range(2):
            with Warehouse.open(Settings(data_dir=sys.argv[1])) as w:
                for j in range(5):
                    w.write_transaction(load(b, j))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", other, str(settings.data_dir)], cwd=REPO)
    try:
        batch = 0
        while process.poll() is None or batch < 5:
            warehouse.merge_calls([make_call(f"c{batch}-{i}") for i in range(100)])
            batch += 1
    finally:
        assert process.wait(timeout=120) == 0
    assert rows(warehouse, "SELECT count(*) AS n FROM calls") == [{"n": 100 * batch}]
    cbt001 = "SELECT sum(value) AS n FROM cbt_daily WHERE indicator = 'CBT001'"
    assert rows(warehouse, cbt001) == [{"n": 100 * batch}]
    probes = "SELECT count(*) AS n FROM ods_practices WHERE source_file = 'probe'"
    assert rows(warehouse, probes) == [{"n": 10}]


def test_a_postgres_catalog_nobody_answers_is_a_clear_error(data_dir: Path) -> None:
    """The postgres extension loads offline (PyPI package); the error is the connection's."""
    port = free_port()  # nothing listens there
    settings = Settings(
        data_dir=data_dir,
        catalog=f"postgres:dbname=callstream host=127.0.0.1 port={port} password=hunter2",
    )
    with pytest.raises(WarehouseError, match="cannot open the warehouse postgres:") as caught:
        Warehouse.open(settings)
    assert "Connection refused" in str(caught.value) and "password=***" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_writers_opening_a_new_warehouse_at_once_apply_each_migration_once(
    settings: Settings,
) -> None:
    opener = textwrap.dedent(
        """
        import sys
        from streams.settings import Settings
        from streams.warehouse.store import Warehouse
        Warehouse.open(Settings(data_dir=sys.argv[1])).close()
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", opener, str(settings.data_dir)], cwd=REPO)
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0]
    with Warehouse.open(settings, read_only=True) as reader:
        recorded = reader.query("SELECT version FROM schema_migrations ORDER BY version")
        assert recorded["version"].to_list() == [m.version for m in sqlfiles.migrations()]


def test_a_reader_racing_the_first_writer_is_told_to_wait(settings: Settings) -> None:
    from streams.warehouse import connect as module

    conn = module.connect(settings)
    catalog = module.catalog_uri(settings)
    module.require_catalog(catalog, read_only=False)
    module.load_catalog_extensions(conn, settings, catalog)
    module.attach(conn, settings, catalog, read_only=False, snapshot=None)  # no views yet
    conn.close()
    with pytest.raises(WarehouseError, match="not ready yet"):
        Warehouse.open(settings, read_only=True)


def test_the_writer_goes_on_after_maintenance_in_another_instance(settings: Settings) -> None:
    """The worker's maintenance runs on a DuckDB instance of its own (as does any other
    process's). Small commits (a call, a fact row, the fence) must leave nothing in the
    catalog that maintenance can move from under the writer: with DuckLake's data inlining
    the writer's next commit failed ("relation ducklake_inlined_data_… does not exist")."""
    writer = Warehouse.open(settings)
    maintainer = Warehouse.open(settings, prepare=False)
    try:
        for round_ in range(3):
            writer.merge_calls([make_call(f"r{round_}-{i}") for i in range(3)])
            writer.merge_calls([make_call(f"r{round_}-0", outcome="missed")])
            maintainer.compact()
            maintainer.expire_snapshots(0)
        writer.merge_calls([make_call("last")])
        stored = rows(writer, "SELECT call_id, outcome FROM calls ORDER BY call_id")
    finally:
        maintainer.close()
        writer.close()
    expected = {f"r{r}-{i}": "missed" if i == 0 else "answered" for r in range(3) for i in range(3)}
    assert {r["call_id"]: r["outcome"] for r in stored} == {**expected, "last": "answered"}


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (duckdb.ConversionException("Could not convert string 'x' to INT32"), True),
        (duckdb.OutOfRangeException("Type INT32 with value 9999999999 can't be cast"), True),
        (
            duckdb.InvalidInputException(
                "Attempting to fetch from an unsuccessful query result\nError: "
                "TransactionContext Error: Current transaction is aborted (please ROLLBACK)"
            ),
            False,
        ),
        (duckdb.InvalidInputException("database is locked"), False),
        (duckdb.FatalException("FATAL Error: database has been invalidated"), False),
        (duckdb.IOException("Could not write file"), False),
    ],
)
def test_only_data_errors_set_a_call_aside(error: duckdb.Error, refused: bool) -> None:
    """A call goes to the dead letters only when its data is at fault; a failed catalog
    transaction (reported by DuckDB as InvalidInput) is retried or stops the writer."""
    assert refuses_data(error) is refused


def test_a_reader_pinned_before_a_compaction_still_reads_after_it(settings: Settings) -> None:
    """Compaction merges files; their deletion waits for the retention, so an export pinned
    at a snapshot (or any query that began before the compaction) still finds every file
    of its snapshot, and the snapshot itself is kept for the retention."""
    writer = Warehouse.open(settings)
    try:
        for batch in range(4):
            writer.merge_calls([make_call(f"p{batch}-{i}") for i in range(20)])
        pinned_at = writer.snapshot().id
        listed = (
            "SELECT data_file FROM ducklake_list_files('lake', 'classified_calls', "
            f"snapshot_version => {pinned_at})"
        )
        files = [Path(r["data_file"]) for r in rows(writer, listed)]
        pinned = Warehouse.open(settings, snapshot=pinned_at)
        try:
            before = rows(pinned, "SELECT call_id FROM calls ORDER BY call_id")
            writer.compact()
            writer.expire_snapshots(settings.snapshot_retention_s)
            assert [f for f in files if not f.exists()] == []
            assert rows(pinned, "SELECT call_id FROM calls ORDER BY call_id") == before
        finally:
            pinned.close()
        assert rows(writer, "SELECT count(*) AS n FROM lake.snapshots()")[0]["n"] > pinned_at
    finally:
        writer.close()
    assert len(before) == 80 and len(files) >= 4


def test_two_workers_initialising_one_catalog_is_a_retry_not_a_failure() -> None:
    """PostgreSQL's answer to the second of two workers creating a new DuckLake catalog."""
    from streams.warehouse.connect import is_transient

    raced = duckdb.CatalogException(
        'Failed to initialize DuckLake: Failed to execute query "CREATE TABLE '
        '"public"."ducklake_metadata"(...)": ERROR: relation "ducklake_metadata" already exists'
    )
    assert is_transient(raced)
    assert not is_transient(duckdb.CatalogException('Table with name "calls" already exists'))


def test_open_alerts_are_the_rules_whose_latest_notice_fired(warehouse: Warehouse) -> None:
    def notice(practice: str | None, rule: str, kind: str, minute: int) -> tuple[Any, ...]:
        at = datetime(2026, 8, 3, 8, minute, tzinfo=UTC)
        return (f"{practice}-{rule}-{minute}", practice, rule, kind, "x >= 1", 1.0, at, True, "h:1")

    warehouse.record_alerts(
        [
            notice("A81001", "long queue", "firing", 1),
            notice("A81001", "long queue", "recovered", 9),  # closed
            notice("A81001", "feed stopped", "firing", 2),
            notice("A81002", "long queue", "recovered", 3),
            notice("A81002", "long queue", "firing", 5),  # fired again after recovering
            notice(None, "dead letters", "firing", 4),
        ]
    )
    assert sorted(warehouse.open_alerts(), key=str) == sorted(
        [
            ("A81001", "feed stopped", "h:1"),
            ("A81002", "long queue", "h:1"),
            (None, "dead letters", "h:1"),
        ],
        key=str,
    )


FACT_TABLES = (
    "cbt_daily_facts",
    "cbt_bucket_facts",
    "practice_day_facts",
    "peak_slot_facts",
    "caller_day_facts",
    "routing_facts",
    "staffing_slot_facts",
)


def all_facts(warehouse: Warehouse) -> dict[str, list[dict[str, Any]]]:
    return {table: rows(warehouse, f"SELECT * FROM {table} ORDER BY ALL") for table in FACT_TABLES}


def test_deferred_facts_are_recomputed_later_exactly_as_a_full_rebuild(
    warehouse: Warehouse,
) -> None:
    """Under load the writer commits calls without their facts (merge_calls(facts=False));
    the keys wait in fact_backlog, a corrected call's old day included, until a refresh."""
    day, next_day = date(2026, 8, 3), date(2026, 8, 4)
    warehouse.merge_calls([make_call("a1"), make_call("a2", outcome="missed", talk_s=None)])
    before = all_facts(warehouse)
    moved = make_call("a1", started_at=datetime(2026, 8, 4, 7, 30, tzinfo=UTC), local_date=next_day)
    other = make_call("b1", practice="B22222", caller_key="pseudonym-2")
    assert warehouse.merge_calls([moved, other], facts=False) == 2
    assert rows(warehouse, "SELECT call_id, local_date FROM calls ORDER BY ALL") == [
        {"call_id": "a1", "local_date": next_day},
        {"call_id": "a2", "local_date": day},
        {"call_id": "b1", "local_date": day},
    ]
    assert all_facts(warehouse) == before  # not recomputed yet
    assert rows(
        warehouse, "SELECT DISTINCT practice, local_date FROM fact_backlog ORDER BY ALL"
    ) == [
        {"practice": "A12345", "local_date": day},
        {"practice": "A12345", "local_date": next_day},
        {"practice": "B22222", "local_date": day},
    ]

    assert warehouse.refresh_facts() == 3
    assert rows(warehouse, "SELECT * FROM fact_backlog") == []
    refreshed = all_facts(warehouse)
    assert refreshed != before
    warehouse.rebuild_aggregates(force=True)
    assert all_facts(warehouse) == refreshed
    snapshot = warehouse.snapshot().id
    assert warehouse.refresh_facts() == 0
    assert warehouse.snapshot().id == snapshot  # nothing deferred: nothing written

    # A commit with facts takes the backlog too, even when its own calls change nothing.
    warehouse.merge_calls([make_call("c1", practice="C33333")], facts=False)
    assert warehouse.merge_calls([other], facts=True) == 0
    assert rows(warehouse, "SELECT * FROM fact_backlog") == []
    recomputed = all_facts(warehouse)
    warehouse.rebuild_aggregates(force=True)
    assert all_facts(warehouse) == recomputed
    assert {r["practice"] for r in recomputed["cbt_daily_facts"]} == {"A12345", "B22222", "C33333"}


def test_the_light_round_merges_the_last_commits_files_and_keeps_every_version(
    warehouse: Warehouse, settings: Settings
) -> None:
    """compact_small: the files a run of commits leaves (each commit a new file, and delete
    files for the calls it replaced) become few, with nothing deleted left in them; the data
    is the same now and at an earlier snapshot, and the MERGE goes on as before."""
    for batch in range(12):
        new = [make_call(f"b{batch}-{i}", events=2, complete=False) for i in range(10)]
        grown = [make_call(f"b{batch - 1}-{i}", events=5) for i in range(5)] if batch else []
        warehouse.merge_calls(new + grown)
    files = (
        "SELECT count(*) AS n, count(delete_file) AS deletes "
        "FROM ducklake_list_files('lake', 'classified_calls')"
    )
    everything = "SELECT * FROM classified_calls ORDER BY call_id"
    earlier = warehouse.snapshot().id - 3
    at_earlier = f"SELECT * FROM classified_calls AT (VERSION => {earlier}) ORDER BY call_id"
    before = rows(warehouse, everything)
    before_earlier = rows(warehouse, at_earlier)
    facts = rows(warehouse, "SELECT * FROM cbt_daily_facts ORDER BY ALL")
    files_before = rows(warehouse, files)[0]
    assert files_before["n"] >= 12 and files_before["deletes"] >= 10  # half of each replaced

    warehouse.compact_small(settings.compact_small_file_bytes)

    merged = rows(warehouse, files)[0]
    assert merged == {"n": 1, "deletes": 0}
    assert rows(warehouse, everything) == before
    assert rows(warehouse, at_earlier) == before_earlier
    assert rows(warehouse, "SELECT * FROM cbt_daily_facts ORDER BY ALL") == facts
    assert warehouse.merge_calls([make_call("b11-0", events=2, complete=False)]) == 0
    assert warehouse.merge_calls([make_call("b11-0", events=5, outcome="missed")]) == 1
    # Files at or over the size are the full round's: a one-byte limit merges none.
    warehouse.compact_small(1)
    assert rows(warehouse, files)[0]["n"] == 2
    assert len(rows(warehouse, everything)) == len(before)


def test_light_rounds_are_the_lease_holders(settings: Settings) -> None:
    """Two workers' maintainers: the first to take the lease does the light and full rounds;
    a dead holder's lease (as a light round renews it) lapses within four light periods, and
    another worker takes over. The instance runs on the writer's DuckDB threads."""
    quick = settings.model_copy(update={"compact_small_every_s": 0.25})
    writer = Warehouse.open(quick)
    first, second = maintenance.Maintainer(quick), maintenance.Maintainer(quick)
    try:
        for batch in range(4):
            writer.merge_calls([make_call(f"m{batch}-{i}") for i in range(5)])
        assert first.small_round()
        assert not second.small_round()
        assert first.round()
        assert not second.round()
        assert first.small_round()
        assert first.warehouse is not None
        threads = first.warehouse.conn.execute("SELECT current_setting('threads')").fetchone()
        assert threads == (quick.writer_threads,)
        first.close()  # it dies: its lease lapses within a second
        deadline = time.monotonic() + 30
        while not second.small_round():
            assert time.monotonic() < deadline, "the dead holder's lease never lapsed"
            time.sleep(0.1)
        assert not first.small_round()
        assert len(rows(writer, "SELECT * FROM calls")) == 20
    finally:
        first.close()
        second.close()
        writer.close()


def test_duckdb_checks_extension_signatures_unless_the_folder_is_ours_alone(
    settings: Settings,
) -> None:
    """The signature check (0.3 s of every open) is skipped only where nobody but this user
    can change the extension files; a folder others can write keeps it, and either way the
    warehouse opens and the analyst's SQL can load nothing (``lock_down``)."""
    from streams.warehouse import connect as module

    Warehouse.open(settings).close()
    folder = module.extension_dir(settings)
    assert folder.stat().st_mode & 0o777 == 0o700

    def unsigned_allowed() -> bool:
        conn = module.open_reader(settings)
        try:
            ((allowed,),) = conn.execute(
                "SELECT current_setting('allow_unsigned_extensions')"
            ).fetchall()
            module.lock_down(conn, settings)
            library = module.extension_file(folder, "httpfs")  # not loaded for a local lake
            with pytest.raises(duckdb.Error, match="disabled"):
                conn.execute(f"LOAD '{library}'")
        finally:
            conn.close()
        return bool(allowed)

    assert unsigned_allowed()
    folder.chmod(0o770)  # a group may write: DuckDB checks every signature again
    try:
        assert not module.is_private(folder)
        assert not unsigned_allowed()
    finally:
        folder.chmod(0o700)
    library = module.extension_file(folder, "ducklake")
    assert library.stat().st_mode & 0o777 == 0o644
    library.chmod(0o664)  # a group may write one file: checked again too
    try:
        assert not module.is_private(folder)
        assert not unsigned_allowed()
    finally:
        library.chmod(0o644)
    assert module.is_private(folder)
    assert not module.is_private(folder / "missing")
