"""Opening a DuckLake warehouse: extensions loaded offline, the catalog attached, the error
classes, and the one rule for which DuckDB errors are worth redoing a transaction for.

Extensions load with no network: ducklake and sqlite come from the pinned PyPI packages, and
the connection's extension directory lives under the data dir (never ``~/.duckdb``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import duckdb

from streams.settings import Settings
from streams.warehouse.file_lock import file_lock

ALIAS = "lake"
ATTACH_ATTEMPTS = 6
NO_WAREHOUSE_HINT = "start the worker or run `make run` first"


class WarehouseError(Exception):
    """The warehouse cannot be opened or written; the message says what to do."""


class Conflict(Exception):
    """Another writer committed a conflicting change first; retrying is safe."""


def is_conflict(exc: duckdb.Error) -> bool:
    """Another writer committed a conflicting change first (DuckLake's optimistic commit)."""
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


def is_transient(exc: duckdb.Error) -> bool:
    """Worth redoing the whole transaction: a conflicting commit or a busy SQLite catalog.

    The one retry rule of the warehouse: the writer's MERGE, reference loads and the
    attach all ask it.
    """
    return is_conflict(exc) or "database is locked" in str(exc).lower()


def catalog_uri(settings: Settings) -> str:
    """The DuckLake catalog connection string, e.g. ``sqlite:/data/warehouse/catalog.sqlite``."""
    if settings.catalog:
        return settings.catalog.removeprefix("ducklake:")
    return f"sqlite:{absolute(settings.warehouse_dir) / 'catalog.sqlite'}"


def data_path(settings: Settings) -> str:
    """Where DuckLake writes Parquet: a directory (trailing slash) or an object-store URL."""
    if settings.data_path:
        return settings.data_path if settings.data_path.endswith("/") else settings.data_path + "/"
    return f"{absolute(settings.warehouse_dir) / 'files'}/"


def schema_lock(settings: Settings) -> AbstractContextManager[None]:
    """An exclusive lock on ``warehouse/.schema.lock`` (released on close or exit)."""
    return file_lock(absolute(settings.warehouse_dir) / ".schema.lock")


def absolute(path: Path) -> Path:
    return path.expanduser().resolve()


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_attach_script(settings: Settings) -> str:
    """The SQL a plain ``duckdb`` CLI runs to read this warehouse read-only, offline.

    The ducklake and sqlite extensions are copied from their PyPI packages into the data
    dir's extension folder, so the script names absolute paths and needs no download.
    """
    catalog = catalog_uri(settings)
    require_catalog(catalog, read_only=True)
    directory = extension_dir(settings)
    ducklake = copied_extension(
        directory,
        packaged_extension("duckdb_extension_ducklake", "ducklake.duckdb_extension"),
        "ducklake",
    )
    lines = [
        f"-- callstream warehouse, read-only (DuckDB {duckdb.__version__}): duckdb -init FILE",
        "SET autoinstall_known_extensions = false;",
        "SET autoload_known_extensions = false;",
    ]
    if catalog.startswith("sqlite:"):
        sqlite = copied_extension(
            directory,
            packaged_extension("duckdb_extension_sqlite", "sqlite.duckdb_extension"),
            "sqlite_scanner",
        )
        lines.append(f"LOAD {quote(str(sqlite))};")
    lines += [
        f"LOAD {quote(str(ducklake))};",
        f"ATTACH {quote('ducklake:' + catalog)} AS {ALIAS} (READ_ONLY);",
        f"USE {ALIAS};",
    ]
    return "\n".join(lines) + "\n"


def require_catalog(catalog: str, read_only: bool) -> None:
    """Readers need an existing warehouse; writers create the local one."""
    kind, _, target = catalog.partition(":")
    if kind != "sqlite":
        return
    path = Path(target)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path.parent}; {NO_WAREHOUSE_HINT}")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)


def require_ready(conn: duckdb.DuckDBPyConnection, catalog: str) -> None:
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


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads extensions and reports times in UTC."""
    conn = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(extension_dir(settings)),
        }
    )
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def extension_dir(settings: Settings) -> Path:
    """``data_dir/duckdb_extensions``, or a private temp dir when the data dir is read-only."""
    for path in (
        absolute(settings.data_dir) / "duckdb_extensions",
        Path(tempfile.gettempdir()) / f"callstream-duckdb-extensions-{os.getuid()}",
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise WarehouseError("no writable directory for DuckDB extensions (data dir or temp dir)")


def packaged_extension(package: str, file_name: str) -> Path:
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


def copied_extension(directory: Path, source: Path, name: str) -> Path:
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
        conn.execute(f"LOAD {quote(str(path))}" if path else f"LOAD {name}")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot load the DuckDB {name} extension ({hint}): {one_line(exc)}"
        ) from exc


def load_catalog_extensions(
    conn: duckdb.DuckDBPyConnection, settings: Settings, catalog: str
) -> None:
    """ducklake always; sqlite or postgres for the catalog; httpfs for an object-store path."""
    ducklake = packaged_extension("duckdb_extension_ducklake", "ducklake.duckdb_extension")
    _load(conn, "ducklake", ducklake, "reinstall callstream")
    kind = catalog.partition(":")[0]
    if kind == "sqlite":
        source = packaged_extension("duckdb_extension_sqlite", "sqlite.duckdb_extension")
        directory = Path(
            conn.execute("SELECT current_setting('extension_directory')").fetchone()[0]
        )
        _load(conn, "sqlite", copied_extension(directory, source, "sqlite_scanner"), "reinstall")
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


def attach(
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
        options.append(f"DATA_PATH {quote(data_path(settings))}")
        if "://" not in data_path(settings):
            Path(data_path(settings)).mkdir(parents=True, exist_ok=True)
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    statement = f"ATTACH {quote('ducklake:' + catalog)} AS {ALIAS} ({', '.join(options)})"
    try:
        for attempt in range(1, ATTACH_ATTEMPTS + 1):
            try:
                conn.execute(statement)
                break
            except duckdb.Error as exc:  # a writer creating the catalog right now: wait
                if not is_transient(exc) or attempt == ATTACH_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
    except duckdb.Error as exc:
        if snapshot is not None and "No snapshot found" in str(exc):
            raise WarehouseError(
                f"the warehouse has no snapshot {snapshot} (expired, or not made yet); "
                'list them with `callstream sql "FROM lake.snapshots()"`'
            ) from exc
        raise WarehouseError(f"cannot open the warehouse {catalog}: {one_line(exc)}") from exc
    conn.execute(f"USE {ALIAS}")


def open_reader(settings: Settings, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with the warehouse attached read-only (at ``snapshot``, or the latest).

    The whole read path, with nothing but duckdb imported: ``callstream sql`` starts in the
    time a plain ``duckdb`` does (Warehouse wraps this for code that wants polars frames).
    """
    catalog = catalog_uri(settings)
    require_catalog(catalog, True)
    conn = connect(settings)
    try:
        load_catalog_extensions(conn, settings, catalog)
        attach(conn, settings, catalog, True, snapshot)
        require_ready(conn, catalog)
    except BaseException:
        conn.close()
        raise
    return conn
