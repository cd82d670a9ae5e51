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
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import duckdb
import polars as pl

from models.classified import ClassifiedCall
from streams import sqlfiles
from streams.file_lock import file_lock
from streams.settings import Settings

ALIAS = "lake"
#: Materialised aggregates: refresh files run for the days a batch touched (touched_days).
AGGREGATES: tuple[str, ...] = ("warehouse/refresh_cbt_daily.sql",)
PREPARE_ATTEMPTS = 8
ATTACH_ATTEMPTS = 6
MERGE_ATTEMPTS = 6
STALE_STAGING_S = 3600.0
NO_WAREHOUSE_HINT = "start the worker or run `make run` first"

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
}


class WarehouseError(Exception):
    """The warehouse cannot be opened or written; the message says what to do."""


class _Conflict(Exception):
    """Another writer committed a conflicting change first; retrying is safe."""


def _is_conflict(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


def _is_transient(exc: duckdb.Error) -> bool:
    """Worth redoing the transaction: a busy SQLite catalog or a conflicting commit."""
    return _is_conflict(exc) or "database is locked" in str(exc)


class Snapshot(NamedTuple):
    """A DuckLake snapshot: what "data as of" means for a reader or an export."""

    id: int
    time: datetime


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


def catalog_uri(settings: Settings) -> str:
    """The DuckLake catalog connection string, e.g. ``sqlite:/data/warehouse/catalog.sqlite``."""
    if settings.catalog:
        return settings.catalog.removeprefix("ducklake:")
    return f"sqlite:{_absolute(settings.warehouse_dir) / 'catalog.sqlite'}"


def data_path(settings: Settings) -> str:
    """Where DuckLake writes Parquet: a directory (trailing slash) or an object-store URL."""
    if settings.data_path:
        return settings.data_path if settings.data_path.endswith("/") else settings.data_path + "/"
    return f"{_absolute(settings.warehouse_dir) / 'files'}/"


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
        cls, settings: Settings, read_only: bool = False, snapshot: int | None = None
    ) -> Warehouse:
        """Attach the warehouse; writable opens create it, apply migrations and (re)create views.

        ``snapshot`` attaches read-only as of that DuckLake snapshot (for exports that must
        match a "data as of" figure); it implies ``read_only``.
        """
        read_only = read_only or snapshot is not None
        catalog = catalog_uri(settings)
        _require_catalog(catalog, read_only)
        conn = _connect(settings)
        try:
            _load_catalog_extensions(conn, settings, catalog)
            warehouse = cls(conn, settings, read_only, snapshot)
            if read_only:
                _attach(conn, settings, catalog, read_only, snapshot)
                _require_ready(conn, catalog)
            else:
                with _schema_lock(settings):
                    _attach(conn, settings, catalog, read_only, snapshot)
                    warehouse._prepare()
                    warehouse._clear_staging()
        except BaseException:
            conn.close()
            raise
        return warehouse

    def _prepare(self) -> None:
        """Migrations, views and stale aggregates, retried when another writer commits
        first (the open's file lock serialises processes on one machine, not those sharing
        a PostgreSQL catalog): the retry sees the other's work and skips it."""
        for attempt in range(1, PREPARE_ATTEMPTS + 1):
            try:
                self.migrate()
                self.create_views()
                self.rebuild_aggregates()
                return
            except _Conflict as conflict:
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
            if _is_conflict(exc):
                raise _Conflict(_one_line(exc)) from exc
            raise
        recorded = self.conn.execute("SELECT version FROM schema_migrations").fetchall()
        done = {row[0] for row in recorded}
        applied: list[str] = []
        for migration in sqlfiles.migrations(root):
            if migration.version in done:
                continue
            self.conn.execute("BEGIN TRANSACTION")
            try:
                self.conn.execute(migration.text)
                self.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now())",
                    [migration.version, migration.name],
                )
                self.conn.execute("COMMIT")
            except duckdb.Error as exc:
                self._rollback()
                if _is_conflict(exc):
                    raise _Conflict(_one_line(exc)) from exc
                raise WarehouseError(
                    f"migration {migration.path.name} failed: {_one_line(exc)}"
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
        for aggregate in AGGREGATES:
            text = sqlfiles.read(aggregate)
            digest = hashlib.sha256(text.encode()).hexdigest()
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
                self.conn.execute("COMMIT")
            except duckdb.Error as exc:
                self._rollback()
                if _is_conflict(exc):
                    raise _Conflict(_one_line(exc)) from exc
                raise WarehouseError(f"rebuilding {aggregate} failed: {_one_line(exc)}") from exc
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
            self._rollback()
            if _is_conflict(exc):
                raise _Conflict(_one_line(exc)) from exc
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
                raise WarehouseError(f"view {view.path} cannot be created: {_one_line(exc)}")
            pending = [view for view, _ in failed]
        return created

    # --- writing ---

    def merge_calls(self, calls: Sequence[ClassifiedCall]) -> int:
        """Write a batch of classified calls in one transaction with one MERGE.

        Keyed by practice + call id: a replayed identical call changes nothing, a corrected
        call replaces the row (ingested_at kept, updated_at set), and a call repeated in the
        batch counts once, its last copy. When rows changed, the materialised aggregates
        (cbt_daily) are recomputed for every (practice, local_date) the batch touched, in
        the same transaction. Returns the rows inserted plus updated.
        """
        self._require_writable()
        if not calls:
            return 0
        frame = calls_frame(calls)
        staging = self._staging_dir() / f"batch-{uuid.uuid4().hex}.parquet"
        frame.write_parquet(staging, compression="uncompressed", statistics=False)
        attempt = 1
        try:
            while True:
                try:
                    return self._merge_staged(staging)
                except duckdb.Error as exc:
                    # Another writer (reference load) holding the SQLite catalog, or a
                    # conflicting commit: the whole transaction is redone from the staged file.
                    if not _is_transient(exc) or attempt == MERGE_ATTEMPTS:
                        raise
                    time.sleep(0.05 * 2**attempt)
                    attempt += 1
        finally:
            staging.unlink(missing_ok=True)

    def _merge_staged(self, staging: Path) -> int:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            self.conn.execute(
                "CREATE OR REPLACE TEMP VIEW batch_calls AS "
                f"SELECT * FROM read_parquet({_quote(str(staging))})"
            )
            self.conn.execute(sqlfiles.read("warehouse/touched_days.sql"))
            changed = self.conn.execute(sqlfiles.read("warehouse/merge_calls.sql")).fetchone()
            if changed and changed[0]:
                for aggregate in AGGREGATES:
                    self.conn.execute(sqlfiles.read(aggregate))
            self.conn.execute("DROP VIEW IF EXISTS batch_calls")
            self.conn.execute("DROP TABLE IF EXISTS touched_days")
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return int(changed[0]) if changed else 0

    # --- reading ---

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one query and return its result as a polars frame (column names kept)."""
        result = self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)
        if result.description is None:
            return pl.DataFrame()
        names = _unique_names([column[0] for column in result.description])
        return pl.DataFrame(result.fetchall(), schema=names, orient="row", infer_schema_length=None)

    def snapshot(self) -> Snapshot:
        """The snapshot this connection reads: the latest, or the one it was opened at."""
        if self.snapshot_version is not None:
            row = self.conn.execute(
                sqlfiles.read("warehouse/snapshot_at.sql"), {"version": self.snapshot_version}
            ).fetchone()
        else:
            row = self.conn.execute(sqlfiles.read("warehouse/latest_snapshot.sql")).fetchone()
        if row is None:
            raise WarehouseError("the warehouse has no snapshot yet")
        return Snapshot(int(row[0]), row[1])

    # --- upkeep ---

    def compact(self) -> None:
        """Flush inlined rows, rewrite files with deletions and merge small Parquet files
        (sql/warehouse/compact.sql): frequent small commits would otherwise slow reads."""
        self._require_writable()
        self.conn.execute(sqlfiles.read("warehouse/compact.sql"))

    def expire_snapshots(self, older_than_s: float) -> None:
        """Forget snapshots older than ``older_than_s`` and delete the files only they used.

        Readers attached at an expired snapshot lose it; retention (settings
        ``snapshot_retention_s``) is the time an export may take to refer back.
        """
        self._require_writable()
        params = {"older_than_s": float(older_than_s)}
        self.conn.execute(sqlfiles.read("warehouse/expire_snapshots.sql"), params)
        self.conn.execute(sqlfiles.read("warehouse/cleanup_old_files.sql"))

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

    def _rollback(self) -> None:
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
        path = _absolute(self.settings.warehouse_dir) / "staging"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _schema_lock(settings: Settings) -> AbstractContextManager[None]:
    """An exclusive lock on ``warehouse/.schema.lock`` (released on close or exit)."""
    return file_lock(_absolute(settings.warehouse_dir) / ".schema.lock")


def _unique_names(names: list[str]) -> list[str]:
    """Column names made unique (``a``, ``a_1``, ...): a frame cannot hold two ``a``."""
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _absolute(path: Path) -> Path:
    return path.expanduser().resolve()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _create_view_sql(view: sqlfiles.SqlFile) -> str:
    body = view.text.strip().rstrip(";")
    return f'CREATE OR REPLACE VIEW "{view.name}" AS\n{body}\n'


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_attach_script(settings: Settings) -> str:
    """The SQL a plain ``duckdb`` CLI runs to read this warehouse read-only, offline.

    The ducklake and sqlite extensions are copied from their PyPI packages into the data
    dir's extension folder, so the script names absolute paths and needs no download.
    """
    catalog = catalog_uri(settings)
    _require_catalog(catalog, read_only=True)
    directory = _extension_dir(settings)
    ducklake = _copied_extension(
        directory,
        _packaged_extension("duckdb_extension_ducklake", "ducklake.duckdb_extension"),
        "ducklake",
    )
    lines = [
        f"-- callstream warehouse, read-only (DuckDB {duckdb.__version__}): duckdb -init FILE",
        "SET autoinstall_known_extensions = false;",
        "SET autoload_known_extensions = false;",
    ]
    if catalog.startswith("sqlite:"):
        sqlite = _copied_extension(
            directory,
            _packaged_extension("duckdb_extension_sqlite", "sqlite.duckdb_extension"),
            "sqlite_scanner",
        )
        lines.append(f"LOAD {_quote(str(sqlite))};")
    lines += [
        f"LOAD {_quote(str(ducklake))};",
        f"ATTACH {_quote('ducklake:' + catalog)} AS {ALIAS} (READ_ONLY);",
        f"USE {ALIAS};",
    ]
    return "\n".join(lines) + "\n"


def _require_catalog(catalog: str, read_only: bool) -> None:
    """Readers need an existing warehouse; writers create the local one."""
    kind, _, target = catalog.partition(":")
    if kind != "sqlite":
        return
    path = Path(target)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path.parent}; {NO_WAREHOUSE_HINT}")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)


def _require_ready(conn: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """A reader that races the first start of a writer gets a clear word, not a missing view."""
    ready = conn.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND view_name = 'calls'",
        [ALIAS],
    ).fetchone()
    if not ready or ready[0] == 0:
        raise WarehouseError(
            f"the warehouse {catalog} is not ready yet (a writer is creating it); "
            "try again in a moment"
        )


def _connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads extensions and reports times in UTC."""
    conn = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(_extension_dir(settings)),
        }
    )
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def _extension_dir(settings: Settings) -> Path:
    """``data_dir/duckdb_extensions``, or a private temp dir when the data dir is read-only."""
    for path in (
        _absolute(settings.data_dir) / "duckdb_extensions",
        Path(tempfile.gettempdir()) / f"callstream-duckdb-extensions-{os.getuid()}",
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise WarehouseError("no writable directory for DuckDB extensions (data dir or temp dir)")


def _packaged_extension(package: str, file_name: str) -> Path:
    """The extension file shipped in a ``duckdb-extension-*`` PyPI package for this duckdb."""
    try:
        module = __import__(package)
    except ImportError:
        raise WarehouseError(
            f"Python package {package.replace('_', '-')} is missing; reinstall callstream"
        ) from None
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / file_name
    if not path.exists():
        raise WarehouseError(
            f"{path} is missing: {package.replace('_', '-')} does not match duckdb "
            f"{duckdb.__version__}; reinstall callstream"
        )
    return path


def _copied_extension(directory: Path, source: Path, name: str) -> Path:
    """Copy an extension file into ``directory`` under ``name`` (its init symbol follows
    the file name: sqlite's must be called sqlite_scanner). Atomic, so processes can race."""
    target = directory / f"{name}.duckdb_extension"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        partial = directory / f".{name}.{uuid.uuid4().hex}.partial"
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    return target


def _load(conn: duckdb.DuckDBPyConnection, name: str, path: Path | None, hint: str) -> None:
    try:
        conn.execute(f"LOAD {_quote(str(path))}" if path else f"LOAD {name}")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot load the DuckDB {name} extension ({hint}): {_one_line(exc)}"
        ) from exc


def _load_catalog_extensions(
    conn: duckdb.DuckDBPyConnection, settings: Settings, catalog: str
) -> None:
    """ducklake always; sqlite or postgres for the catalog; httpfs for an object-store path."""
    ducklake = _packaged_extension("duckdb_extension_ducklake", "ducklake.duckdb_extension")
    _load(conn, "ducklake", ducklake, "reinstall callstream")
    kind = catalog.partition(":")[0]
    if kind == "sqlite":
        source = _packaged_extension("duckdb_extension_sqlite", "sqlite.duckdb_extension")
        directory = Path(
            conn.execute("SELECT current_setting('extension_directory')").fetchone()[0]
        )
        _load(conn, "sqlite", _copied_extension(directory, source, "sqlite_scanner"), "reinstall")
    elif kind in ("postgres", "postgresql"):
        _load(
            conn,
            "postgres",
            None,
            "a PostgreSQL catalog needs it: on a connected machine run "
            '`duckdb -c "INSTALL postgres"` with the same extension directory',
        )
    if "://" in data_path(settings):
        _load(
            conn,
            "httpfs",
            None,
            "an object-store data path needs it: on a connected machine run "
            '`duckdb -c "INSTALL httpfs"`',
        )


def _attach(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: str,
    read_only: bool,
    snapshot: int | None,
) -> None:
    options: list[str] = []
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append(f"DATA_PATH {_quote(data_path(settings))}")
        if "://" not in data_path(settings):
            Path(data_path(settings)).mkdir(parents=True, exist_ok=True)
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    statement = f"ATTACH {_quote('ducklake:' + catalog)} AS {ALIAS} ({', '.join(options)})"
    try:
        for attempt in range(1, ATTACH_ATTEMPTS + 1):
            try:
                conn.execute(statement)
                break
            except duckdb.Error as exc:  # a writer creating the catalog right now: wait
                if "database is locked" not in str(exc) or attempt == ATTACH_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
    except duckdb.Error as exc:
        if snapshot is not None and "No snapshot found" in str(exc):
            raise WarehouseError(
                f"the warehouse has no snapshot {snapshot} (expired, or not made yet); "
                'list them with `callstream sql "FROM lake.snapshots()"`'
            ) from exc
        raise WarehouseError(f"cannot open the warehouse {catalog}: {_one_line(exc)}") from exc
    conn.execute(f"USE {ALIAS}")
