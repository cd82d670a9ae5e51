"""Opening a DuckLake warehouse: extensions loaded offline, the catalog attached, the error
classes, and the one rule for which DuckDB errors are worth redoing a transaction for.

Extensions load with no network: ducklake, sqlite, postgres and httpfs come from the pinned
PyPI packages, and the connection's extension directory lives under the data dir (never
``~/.duckdb``). Credentials (the PostgreSQL catalog's password, the object store's secret key)
reach DuckDB as temporary secrets and never appear in an error message.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.file_lock import file_lock
from streams.warehouse.sqlite_catalog import is_foreign, use_wal

ALIAS = "lake"
ATTACH_ATTEMPTS = 6
NO_WAREHOUSE_HINT = "start the worker or run `make run` first"
CATALOG_SECRET = "callstream_catalog"
S3_SECRET = "callstream_s3"

#: Extensions from their PyPI packages: name -> (package, file in it, the name the file must
#: have when loaded: its init symbol follows the file name, e.g. sqlite's is sqlite_scanner).
PACKAGED_EXTENSIONS: dict[str, tuple[str, str, str]] = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake.duckdb_extension", "ducklake"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite.duckdb_extension", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres.duckdb_extension", "postgres_scanner"),
    "httpfs": ("duckdb_extension_httpfs", "httpfs.duckdb_extension", "httpfs"),
}


class Snapshot(NamedTuple):
    """A DuckLake snapshot: what "data as of" means for a reader or an export."""

    id: int
    time: datetime


class WarehouseError(Exception):
    """The warehouse cannot be opened or written; the message says what to do."""


class Conflict(Exception):
    """Another writer committed a conflicting change first; retrying is safe."""


def is_conflict(exc: duckdb.Error) -> bool:
    """Another writer committed a conflicting change first (DuckLake's optimistic commit)."""
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


#: A busy SQLite catalog; PostgreSQL's serialization failure, deadlock and lock timeout (the
#: catalog's own transactions meeting, or a long wait for the commit turn), and its unique
#: violation (two workers creating a new warehouse's catalog tables at the same moment).
TRANSIENT_CATALOG_ERRORS = (
    "database is locked",
    "could not serialize access",
    "deadlock detected",
    "due to lock timeout",
    "duplicate key value violates unique constraint",
    # PostgreSQL refuses every statement of a transaction after one failed in it; DuckDB
    # sometimes reports that as InvalidInput ("Attempting to fetch from an unsuccessful
    # query result"), which must not read as "this call's data is at fault".
    "current transaction is aborted",
)


def is_transient(exc: duckdb.Error) -> bool:
    """Worth redoing the whole transaction: a conflicting commit or a busy catalog.

    The one retry rule of the warehouse: the writer's MERGE, reference loads, the
    maintenance lease and the attach all ask it.
    """
    text = str(exc).lower()
    if "ducklake" in text and "already exists" in text:  # two workers creating the catalog
        return True
    return is_conflict(exc) or any(error in text for error in TRANSIENT_CATALOG_ERRORS)


def is_invalidated(exc: BaseException) -> bool:
    """DuckDB hit an internal error and refuses every further statement of this instance:
    only a new connection (a new DuckDB instance) can go on."""
    return isinstance(exc, duckdb.FatalException) or "has been invalidated" in str(exc)


def catalog_kind(catalog: str) -> str:
    """``sqlite`` or ``postgres`` (DuckLake also accepts ``postgresql:``)."""
    kind = catalog.partition(":")[0]
    return "postgres" if kind == "postgresql" else kind


def is_object_store(path: str) -> bool:
    """An ``s3://`` (or other URL) data path rather than a local directory."""
    return "://" in path


def needed_extensions(settings: Settings, catalog: str) -> list[str]:
    """ducklake always; sqlite or postgres for the catalog; httpfs for an object-store path."""
    names = ["ducklake"]
    if catalog_kind(catalog) in ("sqlite", "postgres"):
        names.append(catalog_kind(catalog))
    if is_object_store(data_path(settings)):
        names.append("httpfs")
    return names


def shown(catalog: str) -> str:
    """The catalog as it may appear in a message or log: any password in it masked."""
    catalog = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", catalog, flags=re.I)
    return re.sub(r"(://[^/:@\s]*:)[^@/\s]*@", r"\1***@", catalog)


def redacted(text: str, settings: Settings) -> str:
    """``text`` with every configured secret value replaced by ``***``."""
    for secret in (settings.catalog_password, settings.s3_secret):
        if secret is not None and secret.get_secret_value():
            text = text.replace(secret.get_secret_value(), "***")
    return shown(text)


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


def duckdb_attach_script(settings: Settings, with_credentials: bool = False) -> str:
    """The SQL a plain ``duckdb`` CLI runs to read this warehouse read-only, offline.

    The extensions are copied from their PyPI packages into the data dir's extension folder,
    so the script names absolute paths and needs no download. Credentials (catalog password,
    object-store secret key) are written into the script only ``with_credentials``; otherwise
    the script reads them from the same CALLSTREAM_* environment variables when it runs
    (the duckdb CLI's ``getenv``), so the file itself holds no secret.
    """
    catalog = catalog_uri(settings)
    require_catalog(catalog, read_only=True)
    directory = extension_dir(settings)
    loads = [
        f"LOAD {quote(str(extension_file(directory, name)))};"
        for name in needed_extensions(settings, catalog)
    ]
    lines = [f"-- callstream warehouse, read-only (DuckDB {duckdb.__version__}): duckdb -init FILE"]
    if is_private(directory):  # as callstream itself does there: the check guards no one
        lines.append(
            "-- or duckdb -unsigned -init FILE: these extension files only you can change, so "
            "DuckDB's check of their signatures (0.1 s of each run) can be skipped"
        )
    lines += [
        "SET autoinstall_known_extensions = false;",
        "SET autoload_known_extensions = false;",
        *loads,
    ]
    if with_credentials:
        lines.insert(1, "-- holds credentials: keep this file private, never commit or share it")
        lines += secret_statements(settings, catalog, literal_secret)
    else:
        lines += secret_statements(settings, catalog, from_environment)
    lines += [
        f"ATTACH {quote('ducklake:' + catalog)} AS {ALIAS} "
        f"({', '.join(['READ_ONLY', *metadata_options(settings)])});",
        f"USE {ALIAS};",
    ]
    return "\n".join(lines) + "\n"


def literal_secret(variable: str, value: str) -> str:
    """A secret value written into SQL as it is (only in memory, or when the user asks)."""
    return quote(value)


def from_environment(variable: str, value: str) -> str:
    """A secret value the duckdb CLI reads from the environment when the script runs."""
    return f"getenv({quote(variable)})"


def secret_statements(
    settings: Settings, catalog: str, secret_value: Callable[[str, str], str]
) -> list[str]:
    """CREATE SECRET statements for the catalog password and the object store, as needed.

    ``secret_value(variable, value)`` gives the SQL for a secret value: the value itself, or
    where to read it from.
    """
    statements = []
    password = settings.catalog_password
    if catalog_kind(catalog) == "postgres" and password is not None:
        value = secret_value("CALLSTREAM_CATALOG_PASSWORD", password.get_secret_value())
        statements.append(
            f"CREATE OR REPLACE TEMPORARY SECRET {CATALOG_SECRET} "
            f"(TYPE postgres, PASSWORD {value});"
        )
    path = data_path(settings)
    if path.startswith("s3://"):
        options = [
            "TYPE s3",
            f"REGION {quote(settings.s3_region)}",
            f"URL_STYLE {quote(settings.s3_url_style)}",
            f"USE_SSL {'true' if settings.s3_use_ssl else 'false'}",
            f"SCOPE {quote('s3://' + path.removeprefix('s3://').split('/')[0] + '/')}",
        ]
        if settings.s3_endpoint:
            options.append(f"ENDPOINT {quote(settings.s3_endpoint)}")
        if settings.s3_key_id:
            options.append(f"KEY_ID {quote(settings.s3_key_id)}")
        if settings.s3_secret is not None:
            value = secret_value("CALLSTREAM_S3_SECRET", settings.s3_secret.get_secret_value())
            options.append(f"SECRET {value}")
        statements.append(f"CREATE OR REPLACE TEMPORARY SECRET {S3_SECRET} ({', '.join(options)});")
    return statements


def metadata_options(settings: Settings) -> list[str]:
    """ATTACH options that hand the catalog password (a secret) to the catalog connection."""
    if settings.catalog_password is None or catalog_kind(catalog_uri(settings)) != "postgres":
        return []
    return [f"METADATA_PARAMETERS MAP {{'SECRET': {quote(CATALOG_SECRET)}}}"]


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


def require_ready(
    conn: duckdb.DuckDBPyConnection, catalog: str, snapshot: int | None = None
) -> None:
    """A reader that races the first start of a writer gets a clear word, not a missing view;
    one asking for a ``snapshot`` from before the views were made is told so (no retry helps)."""
    # No bound parameter: binding one makes duckdb import pandas, a second of start-up. Every
    # row fetched: a result left unread keeps its transaction, and with it a read transaction
    # on a SQLite catalog, open, so a writer's commit fails "database is locked" meanwhile.
    ((views,),) = conn.execute(
        "SELECT count(*) FROM duckdb_views() "
        f"WHERE database_name = {quote(ALIAS)} AND view_name = 'calls'"
    ).fetchall()
    if views == 0 and snapshot is not None:
        raise WarehouseError(
            f"snapshot {snapshot} of the warehouse {shown(catalog)} is from before its views "
            "were created: it cannot be read; name a later snapshot (an export's manifest "
            "names the one it read)"
        )
    if views == 0:
        raise WarehouseError(
            f"the warehouse {shown(catalog)} is not ready yet (a writer is creating it); "
            "try again in a moment"
        )


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads extensions and reports times in UTC."""
    directory = extension_dir(settings)
    conn = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": str(directory),
            "allow_unsigned_extensions": is_private(directory),
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
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise WarehouseError("no writable directory for DuckDB extensions (data dir or temp dir)")


def is_private(directory: Path) -> bool:
    """Whether only this user can change the extensions in ``directory``: the folder and every
    extension file in it owned by us and writable by no group or other user (a file a group
    may write is not safe in a folder the group may enter, e.g. one an older version made
    0755 under umask 002).

    DuckDB's signature check re-reads every extension file on every LOAD (70 MB for ducklake
    and sqlite: 0.3 s of each open here, most of ``callstream sql``'s start-up). The files
    this project loads are its installed packages' own, copied in by this user
    (``extension_file``); in a folder nobody else can write, the check guards against no one
    who could not already change this project's code, so it is skipped there. In any other
    folder (another user's, or one others can write) DuckDB checks every signature as before.
    Nothing typed into ``callstream sql`` can load an extension either way (``lock_down``).
    """
    try:
        paths = [directory, *directory.glob("*.duckdb_extension")]
        return all(_ours_alone(path.stat()) for path in paths)
    except OSError:
        return False


def _ours_alone(status: os.stat_result) -> bool:
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


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


def extension_file(directory: Path, name: str) -> Path:
    """The packaged extension ``name`` copied into ``directory`` under the file name its init
    symbol needs. Atomic, so processes can race."""
    package, file_name, loaded_as = PACKAGED_EXTENSIONS[name]
    source = packaged_extension(package, file_name)
    target = directory / f"{loaded_as}.duckdb_extension"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        partial = directory / f".{loaded_as}.{uuid.uuid4().hex}.partial"
        shutil.copyfile(source, partial)
        partial.chmod(0o644)  # never group-writable, whatever the umask (``is_private``)
        os.replace(partial, target)
    return target


def load_catalog_extensions(
    conn: duckdb.DuckDBPyConnection, settings: Settings, catalog: str
) -> None:
    """Load the extensions this warehouse needs, then create its secrets (in memory only)."""
    directory = Path(conn.execute("SELECT current_setting('extension_directory')").fetchone()[0])
    for name in needed_extensions(settings, catalog):
        path = extension_file(directory, name)
        try:
            conn.execute(f"LOAD {quote(str(path))}")
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot load the DuckDB {name} extension (reinstall callstream): {one_line(exc)}"
            ) from exc
    for statement in secret_statements(settings, catalog, literal_secret):
        try:
            conn.execute(statement)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot set up the warehouse credentials: {redacted(one_line(exc), settings)}"
            ) from None


def attach(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: str,
    read_only: bool,
    snapshot: int | None,
) -> None:
    if is_foreign(catalog):  # a writer would add DuckLake's tables beside its own
        raise WarehouseError(
            f"{shown(catalog)} is not a warehouse catalog (an SQLite database without "
            "DuckLake's tables): check CALLSTREAM_CATALOG, or move the file away and start "
            "the worker for a new warehouse"
        )
    options: list[str] = metadata_options(settings)
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append(f"DATA_PATH {quote(data_path(settings))}")
        # No data inlining (DuckLake 1.0 inlines writes of under 10 rows into catalog tables):
        # maintenance flushes them from its own DuckDB instance, and another instance that
        # cached the inlined table then fails every commit ("relation ducklake_inlined_data_…
        # does not exist") until DuckDB invalidates it: seen with three workers on PostgreSQL.
        options.append("DATA_INLINING_ROW_LIMIT 0")
        use_wal(catalog)
        if not is_object_store(data_path(settings)):
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
        if "creating a new DuckLake is explicitly disabled" in str(exc):
            raise WarehouseError(
                f"no warehouse in {shown(catalog)} yet (its catalog is empty: a worker is "
                f"creating it, or stopped while it did); {NO_WAREHOUSE_HINT}"
            ) from None
        if "file is not a database" in str(exc):
            raise WarehouseError(
                f"{shown(catalog)} is not a warehouse catalog (not an SQLite database): restore "
                "it from a backup, or move it away and start the worker for a new warehouse"
            ) from None
        raise WarehouseError(
            f"cannot open the warehouse {shown(catalog)}: {redacted(one_line(exc), settings)}"
        ) from None
    conn.execute(f"USE {ALIAS}")


def open_reader(settings: Settings, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with the warehouse attached read-only (at ``snapshot``, or the latest).

    The whole read path, with nothing but duckdb imported, for ``callstream sql`` (Warehouse
    wraps this for code that wants polars frames).
    """
    catalog = catalog_uri(settings)
    require_catalog(catalog, True)
    conn = connect(settings)
    try:
        load_catalog_extensions(conn, settings, catalog)
        attach(conn, settings, catalog, True, snapshot)
        require_ready(conn, catalog, snapshot)
    except BaseException:
        conn.close()
        raise
    return conn


def reattach(conn: duckdb.DuckDBPyConnection, settings: Settings, snapshot: int) -> None:
    """Attach the warehouse again on the same connection, read-only as of ``snapshot``.

    For a reader that first reads the latest snapshot, then pins it: loading the extensions
    (unless ``is_private``, DuckDB checks their signatures, most of an open) happens once.
    """
    catalog = catalog_uri(settings)
    conn.execute("USE memory")
    conn.execute(f"DETACH {ALIAS}")
    attach(conn, settings, catalog, True, snapshot)
    require_ready(conn, catalog, snapshot)


#: DuckLake functions that only read: a query typed by a user may call these and no other
#: ``ducklake_`` function (the rest write the catalog or delete Parquet files, and deleting
#: works through a read-only attach: seen with ``ducklake_cleanup_old_files``, 1.5.5).
READ_ONLY_LAKE_FUNCTIONS = frozenset(
    {
        "ducklake_snapshots",
        "ducklake_current_snapshot",
        "ducklake_last_committed_snapshot",
        "ducklake_table_info",
        "ducklake_table_changes",
        "ducklake_table_insertions",
        "ducklake_table_deletions",
        "ducklake_list_files",
        "ducklake_settings",
        "ducklake_options",
    }
)
#: Functions a typed query may not call: the catalog extensions' scanners open files and
#: servers themselves, past ``enable_external_access`` (``sqlite_scan`` read any SQLite file
#: the user could), and ``query``/``query_table`` run a string as SQL, past every check here.
UNSAFE_FUNCTION_PREFIXES = ("ducklake_", "sqlite_", "postgres_")
UNSAFE_FUNCTIONS = frozenset({"query", "query_table"})


def unsafe_call(text: str) -> str | None:
    """The first function ``text`` calls that a typed query may not (see
    ``UNSAFE_FUNCTIONS``), else None. Read from DuckDB's own tokens, so a name in a string or
    a comment is not a call, and a quoted or qualified name (``main."Sqlite_Scan"(``) is."""
    tokens = duckdb.tokenize(text)
    starts = [start for start, _ in tokens] + [len(text)]
    for index, (start, kind) in enumerate(tokens[:-1]):
        if kind not in (duckdb.token_type.identifier, duckdb.token_type.keyword):
            continue
        following = text[starts[index + 1] : starts[index + 2]].lstrip()
        if not following.startswith("("):
            continue
        name = _token_word(text[start : starts[index + 1]]).casefold()
        if name in UNSAFE_FUNCTIONS or (
            name.startswith(UNSAFE_FUNCTION_PREFIXES) and name not in READ_ONLY_LAKE_FUNCTIONS
        ):
            return name
    return None


def _token_word(text: str) -> str:
    """An identifier token's name: unquoted, without the space or comment after it."""
    if text.startswith('"'):
        return text[1:].split('"', 1)[0]
    return re.split(r"\s|--|/\*", text, maxsplit=1)[0]


def lock_down(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """For SQL a user types: from now on DuckDB touches no file but the warehouse's Parquet
    files and a private spill folder, loads no extension, and no setting can be changed back
    (``enable_external_access``, ``lock_configuration``). The catalog is already attached.
    With an object-store data path only the settings are locked."""
    files = data_path(settings)
    if "://" not in files:
        spill = Path(tempfile.gettempdir()) / f"callstream-duckdb-spill-{os.getuid()}"
        spill.mkdir(mode=0o700, exist_ok=True)
        conn.execute(f"SET temp_directory = {quote(str(spill))}")
        conn.execute(f"SET allowed_directories = [{quote(files)}, {quote(str(spill) + '/')}]")
        conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")


def read_snapshot(conn: duckdb.DuckDBPyConnection, version: int | None = None) -> Snapshot:
    """The snapshot a connection reads: the latest, or ``version`` it was attached at."""
    if version is not None:
        row = conn.execute(sqlfiles.read("warehouse/snapshot_at.sql"), {"version": version})
    else:
        row = conn.execute(sqlfiles.read("warehouse/latest_snapshot.sql"))
    rows = row.fetchall()  # every row: see require_ready
    found = rows[0] if rows else None
    if found is None:
        raise WarehouseError("the warehouse has no snapshot yet")
    return Snapshot(int(found[0]), found[1])
