"""The SQLite catalog kept in write-ahead-log mode.

In SQLite's default (rollback-journal) mode another process's open read of the catalog (an
analyst's query, the dashboards, a freshness probe) holds off the writer's commit, which then
failed "database is locked"; in WAL mode readers never block it (docs/deploy.md, step 1).
The mode is stored in the database file, so it is set once, by a writer, before DuckLake
opens the file; every later connection (DuckDB's sqlite extension, the `sqlite3` shell) uses
it. WAL needs the catalog on a local disk, as SQLite always does for concurrent use: several
machines share a PostgreSQL catalog instead.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)


def catalog_file(catalog: str) -> Path | None:
    """The file of a ``sqlite:`` catalog string; None for any other catalog or ``:memory:``."""
    kind, _, location = catalog.partition(":")
    if kind != "sqlite" or not location or location == ":memory:":
        return None
    return Path(location).expanduser()


def use_wal(catalog: str) -> None:
    """Put a SQLite catalog's file in WAL mode (creating an empty file for DuckLake to fill
    when there is none yet). Another process holding the file open in the old mode keeps it
    there until the next writer opens it alone: logged, not an error, since the catalog works
    in either mode."""
    path = catalog_file(catalog)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(path, timeout=1)) as conn:
            (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    except sqlite3.Error as exc:
        log.warning("catalog %s stays in its journal mode for now: %s", path, exc)
        return
    if str(mode).lower() != "wal":
        log.warning("catalog %s stays in %s mode for now (another process has it open)", path, mode)


def is_foreign(catalog: str) -> bool:
    """Whether a ``sqlite:`` catalog's file is some other database: it holds tables, none
    of them DuckLake's (False when it cannot be read, or holds nothing yet). An empty one
    is a warehouse not created yet; a foreign one a writer must not fill with its own."""
    path = catalog_file(catalog)
    if path is None or not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as conn:
            names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return False
    return bool(names) and "ducklake_metadata" not in names
