"""The DuckLake warehouse: connection, offline extensions, migrations, the calls MERGE, upkeep.

Why DuckLake and not a plain DuckDB file: the worker writes all day while analysts and
dashboards read, and a DuckDB file locks every other process out. DuckLake keeps a catalog
database (SQLite under ``$CALLSTREAM_DATA_DIR/warehouse`` by default; PostgreSQL by setting
``CALLSTREAM_CATALOG``) plus Parquet files, and every commit is a snapshot readers can see.

Extensions load with no network: ducklake and sqlite come from the pinned PyPI packages, and
the connection's extension directory lives under the data dir (never ``~/.duckdb``).
The worker's writer is the one process that writes calls (``callstream reference load``
writes the practice dimension); writable opens on one machine take turns on a file lock.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from models.classified import ClassifiedCall
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.commit_turn import commit_turn
from streams.warehouse.connect import (
    Conflict,
    Snapshot,
    WarehouseError,
    absolute,
    attach,
    catalog_uri,
    connect,
    is_conflict,
    is_invalidated,
    is_transient,
    load_catalog_extensions,
    lock_down,
    one_line,
    open_reader,
    quote,
    read_snapshot,
    reattach,
    require_catalog,
    schema_lock,
)
from streams.warehouse.frames import arrow_frame

log = logging.getLogger(__name__)

#: Materialised aggregates: refresh files run for the days a batch touched (touched_days),
#: each with the view files its result depends on (a change to any of them rebuilds it).
AGGREGATES: dict[str, tuple[str, ...]] = {
    "warehouse/refresh_cbt_daily.sql": ("views/calls.sql", "views/cbt_call_indicators.sql"),
    "warehouse/refresh_cbt_bucket_facts.sql": (
        "views/calls.sql",
        "views/cbt_call_indicators.sql",
    ),
    # Reads cbt_daily_facts (refreshed first, in the same transaction) for the NHS counts.
    "warehouse/refresh_practice_day_facts.sql": (
        "views/calls.sql",
        "views/cbt_call_indicators.sql",
        "warehouse/refresh_cbt_daily.sql",
    ),
    "warehouse/refresh_peak_slot_facts.sql": ("views/calls.sql",),
    "warehouse/refresh_caller_day_facts.sql": ("views/calls.sql",),
    "warehouse/refresh_routing_facts.sql": ("views/calls.sql",),
    "warehouse/refresh_staffing_slot_facts.sql": ("views/calls.sql",),
}
#: DuckDB errors that mean "these rows cannot be stored", not "the warehouse is down".
REFUSED_DATA = (
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.InvalidInputException,
    duckdb.ConstraintException,
    duckdb.TypeMismatchException,
)


def refuses_data(exc: duckdb.Error) -> bool:
    """The calls' data is at fault (a value the warehouse cannot store), not the warehouse:
    the one test before a call is set aside as a dead letter. DuckDB raises some failures of
    the catalog's transaction or of the instance as the same classes (InvalidInput), and
    those must be retried or stop the writer, never lose a good call to the dead letters."""
    return (
        isinstance(exc, REFUSED_DATA)
        and not is_transient(exc)
        and not is_invalidated(exc)
        and "transactioncontext error" not in str(exc).lower()
    )


PREPARE_ATTEMPTS = 8
MERGE_ATTEMPTS = 12
MERGE_BACKOFF_MAX_S = 2.0
WRITE_ATTEMPTS = 5
STALE_STAGING_S = 3600.0

#: Column types of a batch of classified calls, in ClassifiedCall field order.
CALL_SCHEMA: dict[str, pl.DataType] = {
    "practice": pl.String(),
    "call_id": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "local_date": pl.Date(),
    "time_band": pl.String(),
    "core_category": pl.String(),
    "inbound": pl.Boolean(),
    "outcome": pl.String(),
    "wait_s": pl.Int32(),
    "wait_bucket": pl.String(),
    "talk_s": pl.Int32(),
    "duration_bucket": pl.String(),
    "callback_made": pl.Boolean(),
    "request_type": pl.String(),
    "first_team": pl.String(),
    "transfers": pl.Int32(),
    "routing": pl.String(),
    "caller_key": pl.String(),
    "complete": pl.Boolean(),
    "rules_version": pl.String(),
    "ended_at": pl.Datetime("us", "UTC"),
    "callback_answered": pl.Boolean(),
    "callback_wait_s": pl.Int32(),
    "divert_target": pl.String(),
    "events": pl.Int32(),
    "first_agent": pl.String(),
    "answered_at": pl.Datetime("us", "UTC"),
}


class RefusedCalls(WarehouseError):
    """The warehouse cannot hold these calls (a value out of a column's range, a string it
    will not store): their data is at fault, not the warehouse, which still answers."""


def calls_frame(calls: Iterable[ClassifiedCall]) -> pl.DataFrame:
    """Classified calls as a typed frame, last copy of a call wins (a batch may repeat one)."""
    latest: dict[tuple[str, str], ClassifiedCall] = {}
    for call in calls:
        latest[(call.practice, call.call_id)] = call
    columns: dict[str, list[Any]] = {name: [] for name in CALL_SCHEMA}
    for call in latest.values():
        row = call.__dict__
        for name, values in columns.items():
            values.append(row[name])
    return pl.DataFrame(columns, schema=CALL_SCHEMA)


class Warehouse:
    """An attached DuckLake (alias ``lake``, the default catalog of ``conn``)."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        settings: Settings,
        read_only: bool,
        snapshot_version: int | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.read_only = read_only
        self.snapshot_version = snapshot_version

    # --- opening ---

    @classmethod
    def open(
        cls,
        settings: Settings,
        read_only: bool = False,
        snapshot: int | None = None,
        prepare: bool = True,
    ) -> Warehouse:
        """Attach the warehouse; writable opens create it, apply migrations and (re)create views.

        ``snapshot`` attaches read-only as of that DuckLake snapshot (for exports that must
        match a "data as of" figure); it implies ``read_only``. ``prepare=False`` attaches
        writable without migrations and views, for a second connection of a process whose
        first open did them (the maintenance's own).
        """
        if read_only or snapshot is not None:
            return cls(open_reader(settings, snapshot), settings, True, snapshot)
        catalog = catalog_uri(settings)
        require_catalog(catalog, read_only)
        conn = connect(settings)
        try:
            load_catalog_extensions(conn, settings, catalog)
            warehouse = cls(conn, settings, read_only, snapshot)
            with schema_lock(settings):
                attach(conn, settings, catalog, read_only, snapshot)
                if prepare:
                    warehouse._prepare()
                    warehouse._clear_staging()
        except BaseException:
            conn.close()
            raise
        return warehouse

    def _prepare(self) -> None:
        """Migrations, views and stale aggregates, retried when another writer commits
        first (the open's file lock serialises processes on one machine, the commit turn
        those sharing a PostgreSQL catalog): the retry sees the other's work and skips it."""
        for attempt in range(1, PREPARE_ATTEMPTS + 1):
            try:
                # One at a time on a PostgreSQL catalog (the writers' commit turn): three
                # workers creating a new warehouse together otherwise conflicted attempt
                # after attempt under load, until some gave up and exited.
                with commit_turn(self.conn, catalog_uri(self.settings)):
                    self.migrate()
                    self.create_views()
                    self.rebuild_aggregates()
                return
            except Conflict as conflict:
                if attempt == PREPARE_ATTEMPTS:
                    raise WarehouseError(
                        f"another process keeps changing the warehouse schema: {conflict}"
                    ) from conflict
                time.sleep(0.1 * attempt)

    def migrate(self, root: Path = sqlfiles.SQL_DIR) -> list[str]:
        """Apply the sql/migrations files not yet recorded in schema_migrations, each in one
        transaction with its record; returns the names applied (empty when up to date)."""
        self._require_writable()
        try:
            self.conn.execute(sqlfiles.read("warehouse/schema_migrations.sql"))
        except duckdb.Error as exc:
            if is_conflict(exc):
                raise Conflict(one_line(exc)) from exc
            raise
        recorded = self.conn.execute("SELECT version FROM schema_migrations").fetchall()
        done = {row[0] for row in recorded}
        applied: list[str] = []
        for migration in sqlfiles.migrations(root):
            if migration.version in done:
                continue
            self.conn.execute("BEGIN TRANSACTION")
            try:
                # Asked again inside the transaction: another worker sharing the catalog may
                # have applied it since the list above was read; its schema is already here.
                if self.conn.execute(
                    "SELECT count(*) FROM schema_migrations WHERE version = ?", [migration.version]
                ).fetchone() != (0,):
                    self.conn.execute("ROLLBACK")
                    continue
                self.conn.execute(migration.text)
                self.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now())",
                    [migration.version, migration.name],
                )
                self.conn.execute("COMMIT")
            except duckdb.Error as exc:
                self.rollback()
                if is_conflict(exc):
                    raise Conflict(one_line(exc)) from exc
                raise WarehouseError(
                    f"migration {migration.path.name} failed: {one_line(exc)}"
                ) from exc
            applied.append(migration.name)
        return applied

    def rebuild_aggregates(self, force: bool = False) -> list[str]:
        """Recompute every materialised aggregate whose refresh SQL changed since it was last
        built (or never was: a new warehouse, an upgrade), from all calls, one transaction
        each. Returns the files rebuilt. ``force`` rebuilds all."""
        self._require_writable()
        built = dict(self.conn.execute("SELECT name, sql_hash FROM aggregate_versions").fetchall())
        rebuilt: list[str] = []
        for aggregate, inputs in AGGREGATES.items():
            text = sqlfiles.read(aggregate)
            source = "\n".join([text, *(sqlfiles.read(view) for view in inputs)])
            digest = hashlib.sha256(source.encode()).hexdigest()
            if not force and built.get(aggregate) == digest:
                continue
            self.conn.execute("BEGIN TRANSACTION")
            try:
                self.conn.execute(sqlfiles.read("warehouse/all_days.sql"))
                self.conn.execute(text)
                self.conn.execute("DROP TABLE IF EXISTS touched_days")
                self.conn.execute("DELETE FROM aggregate_versions WHERE name = ?", [aggregate])
                self.conn.execute(
                    "INSERT INTO aggregate_versions VALUES (?, ?, now())", [aggregate, digest]
                )
                self.conn.execute(sqlfiles.read("warehouse/commit_fence.sql"))
                self.conn.execute("COMMIT")
            except duckdb.Error as exc:
                self.rollback()
                if is_conflict(exc):
                    raise Conflict(one_line(exc)) from exc
                raise WarehouseError(f"rebuilding {aggregate} failed: {one_line(exc)}") from exc
            rebuilt.append(aggregate)
        return rebuilt

    def create_views(self, root: Path = sqlfiles.SQL_DIR) -> list[str]:
        """(Re)create every sql/views file as a view named after the file.

        Views may use each other: they are created in dependency order (names found in
        the text), all in one transaction (one snapshot). If that fails, they are created
        one by one, retrying failed views after the others until a round makes no progress,
        and the error names the file. Returns the view names in the order created.
        """
        self._require_writable()
        ordered = sqlfiles.dependency_order(sqlfiles.views(root))
        self.conn.execute("BEGIN TRANSACTION")
        try:
            for view in ordered:
                self.conn.execute(_create_view_sql(view))
            self.conn.execute("COMMIT")
        except duckdb.Error as exc:
            self.rollback()
            if is_conflict(exc):
                raise Conflict(one_line(exc)) from exc
            return self._create_views_one_by_one(ordered)
        return [view.name for view in ordered]

    def _create_views_one_by_one(self, pending: list[sqlfiles.SqlFile]) -> list[str]:
        created: list[str] = []
        while pending:
            failed: list[tuple[sqlfiles.SqlFile, duckdb.Error]] = []
            for view in pending:
                try:
                    self.conn.execute(_create_view_sql(view))
                except duckdb.Error as exc:
                    failed.append((view, exc))
                else:
                    created.append(view.name)
            if len(failed) == len(pending):
                view, exc = failed[0]
                raise WarehouseError(f"view {view.path} cannot be created: {one_line(exc)}")
            pending = [view for view, _ in failed]
        return created

    # --- writing ---

    def merge_calls(
        self, calls: Sequence[ClassifiedCall], facts: bool | Callable[[], bool] = True
    ) -> int:
        """Write a batch of classified calls in one transaction with one MERGE.

        Raises ``RefusedCalls`` when some call's data cannot be stored (nothing is written).

        Keyed by practice + call id: a replayed identical call changes nothing, a corrected
        call replaces the row (ingested_at kept, updated_at set), and a call repeated in the
        batch counts once, its last copy. With ``facts``, the materialised aggregates
        (AGGREGATES) are recomputed in the same transaction for every (practice, local_date)
        the batch changed and every key an earlier commit deferred (table fact_backlog);
        without, the batch's keys are deferred there instead: the writer's choice under
        sustained load, where seven fact tables written per commit cost more than the calls.
        ``facts`` may be a callable, asked after the MERGE (the load is best seen then).
        Every write also touches the commit fence: with several workers, a batch whose
        commit meets another's is redone on the newer snapshot.
        Returns the rows inserted plus updated.
        """
        self._require_writable()
        if not calls:
            return 0
        try:
            frame = calls_frame(calls)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as exc:
            raise RefusedCalls(f"a value does not fit its column: {one_line(exc)}") from exc
        staging = self._staging_dir() / f"batch-{uuid.uuid4().hex}.parquet"
        frame.write_parquet(staging, compression="uncompressed", statistics=False)
        try:
            return self._redone_until_committed(lambda: self._merge_staged(staging, facts))
        finally:
            staging.unlink(missing_ok=True)

    def _redone_until_committed(self, transaction: Callable[[], int]) -> int:
        """Run ``transaction`` in the writers' commit turn, redone while another writer
        (a reference load holding the SQLite catalog, another worker's commit) gets in
        first; data the warehouse refuses raises ``RefusedCalls`` at once."""
        attempt = 1
        while True:
            try:
                with commit_turn(self.conn, catalog_uri(self.settings)):
                    return transaction()
            except duckdb.Error as exc:
                if refuses_data(exc):
                    raise RefusedCalls(one_line(exc)) from exc
                if not is_transient(exc) or attempt == MERGE_ATTEMPTS:
                    raise
                log.info("warehouse commit redone (attempt %d): %s", attempt, one_line(exc))
                # Jittered: writers that met once should not meet again in lockstep.
                time.sleep(random.uniform(0.5, 1.0) * min(MERGE_BACKOFF_MAX_S, 0.05 * 2**attempt))
                attempt += 1

    def record_alerts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append alert notices to alert_events (migration 023) in one transaction."""
        statement = sqlfiles.read("warehouse/record_alert.sql")
        self.write_transaction(lambda conn: conn.executemany(statement, list(rows)))

    def organisation_practices(self, level: str, code: str) -> list[str]:
        """The practices of a PCN (``level`` 'pcn') or an ICB ('icb'), by the latest
        reference extracts; empty when the reference data has none."""
        statement = sqlfiles.read("warehouse/organisation_practices.sql")
        rows = self.conn.execute(statement, {"level": level, "code": code}).fetchall()
        return [practice for (practice,) in rows]

    def open_alerts(self) -> list[tuple[str | None, str, str]]:
        """The incidents still open, as recorded: (practice or None, rule, worker)."""
        rows = self.conn.execute(sqlfiles.read("warehouse/open_alerts.sql")).fetchall()
        return [(practice, rule, worker) for practice, rule, worker, _ in rows]

    def answers(self) -> bool:
        """Whether the warehouse still answers a read of its catalog (after a failed write:
        is the warehouse down, or did it refuse the data?)."""
        try:
            self.conn.execute(sqlfiles.read("warehouse/latest_snapshot.sql")).fetchone()
        except Exception:  # whatever the reason, it does not answer
            return False
        return True

    def refresh_facts(self) -> int:
        """Recompute the facts of the keys deferred in fact_backlog, in one transaction that
        empties it (redone like a merge when another writer commits first). Returns the
        keys recomputed; with none deferred nothing is written (no new snapshot)."""
        self._require_writable()
        return self._redone_until_committed(self._refresh_deferred)

    def _refresh_deferred(self) -> int:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            self.conn.execute(sqlfiles.read("warehouse/no_touched_days.sql"))
            keys = self._refresh_touched()
            self.conn.execute("DROP TABLE IF EXISTS touched_days")
            self.conn.execute("COMMIT" if keys else "ROLLBACK")
        except BaseException:
            self.rollback()
            raise
        return keys

    def _refresh_touched(self) -> int:
        """Inside a write transaction: recompute AGGREGATES for temp table touched_days and
        the deferred keys, taken out of fact_backlog; touches the commit fence when it
        wrote. Returns the keys recomputed."""
        deferred = self.conn.execute(sqlfiles.read("warehouse/fact_backlog_size.sql"))
        if deferred.fetchone() != (0,):
            self.conn.execute(sqlfiles.read("warehouse/take_fact_backlog.sql"))
        row = self.conn.execute("SELECT count(*) FROM touched_days").fetchone()
        keys = int(row[0]) if row else 0
        if keys:
            # The touched days' calls read once, not once per aggregate (see the file).
            self.conn.execute(sqlfiles.read("warehouse/touched_calls.sql"))
            for aggregate in AGGREGATES:
                self.conn.execute(sqlfiles.read(aggregate))
            self.conn.execute(sqlfiles.read("warehouse/drop_touched_calls.sql"))
            self.conn.execute(sqlfiles.read("warehouse/commit_fence.sql"))
        return keys

    def _merge_staged(self, staging: Path, facts: bool | Callable[[], bool]) -> int:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            self.conn.execute(
                "CREATE OR REPLACE TEMP VIEW batch_calls AS "
                f"SELECT * FROM read_parquet({quote(str(staging))})"
            )
            self.conn.execute(sqlfiles.read("warehouse/touched_days.sql"))
            row = self.conn.execute(sqlfiles.read("warehouse/merge_calls.sql")).fetchone()
            changed = int(row[0]) if row and row[0] else 0
            if facts() if callable(facts) else facts:
                if not changed:  # nothing of the batch's own to recompute
                    self.conn.execute("DELETE FROM touched_days")
                self._refresh_touched()
            elif changed:
                self.conn.execute(sqlfiles.read("warehouse/defer_touched_days.sql"))
                self.conn.execute(sqlfiles.read("warehouse/commit_fence.sql"))
            self.conn.execute("DROP VIEW IF EXISTS batch_calls")
            self.conn.execute("DROP TABLE IF EXISTS touched_days")
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()  # the temp `calls` too: it was made in the transaction
            raise
        return changed

    def write_transaction(
        self, work: Callable[[duckdb.DuckDBPyConnection], None], attempts: int = WRITE_ATTEMPTS
    ) -> None:
        """Run ``work`` (the statements of a load) in one transaction, redone from the start
        while another writer holds the catalog or commits first (``is_transient``: the worker
        committing at the same moment); any other error rolls it back and is raised."""
        self._require_writable()
        for attempt in range(1, attempts + 1):
            try:
                with commit_turn(self.conn, catalog_uri(self.settings)):
                    self.conn.execute("BEGIN TRANSACTION")
                    try:
                        work(self.conn)
                        self.conn.execute("COMMIT")
                    except BaseException:
                        self.rollback()
                        raise
                return
            except duckdb.Error as exc:
                if not is_transient(exc) or attempt == attempts:
                    raise
            time.sleep(0.1 * 2**attempt)

    # --- reading ---

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one query and return its result as a polars frame (column names kept).

        The rows travel as Arrow record batches (DuckDB's Arrow C stream, read by polars
        without a copy per value), never as Python tuples: a national month's export or a
        dashboard query costs what DuckDB costs. See ``arrow_frame`` for the few types
        Arrow and polars disagree on.
        """
        relation = self.conn.sql(sql, params=params) if params is not None else self.conn.sql(sql)
        if relation is None:  # a statement that returns nothing (DDL, SET)
            return pl.DataFrame()
        return arrow_frame(relation)

    def pin(self, snapshot: int) -> None:
        """Read as of ``snapshot`` from now on (read-only), on the same connection: cheaper than
        a second ``open`` (``connect.reattach``)."""
        reattach(self.conn, self.settings, snapshot)
        self.read_only = True
        self.snapshot_version = snapshot

    def lock_down(self) -> None:
        """Lock this connection down for SQL a user types (``connect.lock_down``)."""
        lock_down(self.conn, self.settings)

    def snapshot(self) -> Snapshot:
        """The snapshot this connection reads: the latest, or the one it was opened at."""
        return read_snapshot(self.conn, self.snapshot_version)

    # --- upkeep ---

    def compact(self) -> None:
        """Flush inlined rows, rewrite files with deletions and merge small Parquet files
        (sql/warehouse/compact.sql): frequent small commits would otherwise slow reads."""
        self._require_writable()
        self.conn.execute(sqlfiles.read("warehouse/compact.sql"))

    def compact_small(self, max_file_bytes: int) -> None:
        """The light round between full ones: rewrite the files most of whose rows later
        commits replaced, and merge the files under ``max_file_bytes``. Without it every
        MERGE reads one more file per commit, and at the national peak (a commit a second)
        commits slowed from 0.03 to 0.25 s in five minutes (docs/operations.md)."""
        self._require_writable()
        self.conn.execute(sqlfiles.read("warehouse/rewrite_deleted_files.sql")).fetchall()
        self.conn.execute(
            sqlfiles.read("warehouse/merge_small_files.sql"),
            {"max_file_size": int(max_file_bytes)},
        ).fetchall()

    def expire_snapshots(self, older_than_s: float) -> None:
        """Forget snapshots older than ``older_than_s`` and delete the files only they used,
        or that compaction merged away, once scheduled for deletion that long ago.

        Readers attached at an expired snapshot lose it; retention (settings
        ``snapshot_retention_s``) is the time an export may take to refer back, and the
        time a query that began before a compaction may still read the old files.
        """
        self._require_writable()
        params = {"older_than_s": float(older_than_s)}
        expirable = self.conn.execute(sqlfiles.read("warehouse/expirable_snapshots.sql"), params)
        versions = [row[0] for row in expirable.fetchall()]
        if versions:
            self.conn.execute(
                sqlfiles.read("warehouse/expire_snapshots.sql"), {"versions": versions}
            )
        self.conn.execute(sqlfiles.read("warehouse/cleanup_old_files.sql"), params)

    def close(self) -> None:
        """Detach and close; safe to call twice."""
        self.conn.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- helpers ---

    def rollback(self) -> None:
        """Roll back if a transaction is still open (a failed COMMIT has already ended it)."""
        try:
            self.conn.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass

    def _require_writable(self) -> None:
        if self.read_only:
            raise WarehouseError("this warehouse connection is read-only")

    def _clear_staging(self) -> None:
        """Remove batch files a killed writer left behind (their batch was never acked, so
        Kafka redelivers it). Only old ones: another writer's live batch lasts seconds."""
        cutoff = time.time() - STALE_STAGING_S
        for leftover in self._staging_dir().glob("batch-*.parquet"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)

    def _staging_dir(self) -> Path:
        path = absolute(self.settings.warehouse_dir) / "staging"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _create_view_sql(view: sqlfiles.SqlFile) -> str:
    body = view.text.strip().rstrip(";")
    return f'CREATE OR REPLACE VIEW "{view.name}" AS\n{body}\n'
