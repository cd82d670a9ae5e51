"""Writers on a PostgreSQL catalog take turns to commit, so they seldom redo work.

DuckLake's commits are optimistic: two transactions that touch the same table (every batch
recomputes cbt_daily_facts; every one touches the commit fence) cannot both commit, and the
later one is redone from the start, its MERGE included. With several workers committing
all day that is wasted work, and under load a writer can lose turn after turn. So before a
write transaction the writer takes a PostgreSQL advisory lock in the catalog database, on
a connection of its own, and keeps it until its DuckLake commit has ended: writers queue
instead of colliding.

The lock only saves work; correctness never rests on it (the commit fence and DuckLake's
conflict check do that), so a lock lost with its connection costs at most a redone batch.
A writer that dies loses its connection and with it the lock. The SQLite catalog needs no
turn: it lives on one machine, and SQLite serialises its writers itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from streams.warehouse.connect import ALIAS, catalog_kind, quote

#: The advisory lock's key (any bigint; "callstrm" in ASCII), per catalog database.
LOCK_KEY = 0x63616C6C7374726D
#: Longest a writer waits for its turn; then the attempt fails and is retried (is_transient).
LOCK_TIMEOUT_S = 120


@contextmanager
def commit_turn(conn: duckdb.DuckDBPyConnection, catalog: str) -> Iterator[None]:
    """Hold this warehouse's write turn for the block (PostgreSQL catalogs only)."""
    if catalog_kind(catalog) != "postgres":
        yield
        return
    holder = conn.cursor()  # a connection of its own: its transaction outlives the commit
    try:
        holder.execute("BEGIN TRANSACTION")
        sql = (
            f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'; "
            f"SELECT pg_advisory_xact_lock({LOCK_KEY})"
        )
        # DuckLake attaches its PostgreSQL catalog as __ducklake_metadata_<alias>.
        holder.execute(
            f"CALL postgres_execute({quote('__ducklake_metadata_' + ALIAS)}, {quote(sql)})"
        )
        yield
    finally:
        try:
            holder.execute("ROLLBACK")  # ends the PostgreSQL transaction: the lock goes
        except duckdb.Error:
            pass  # no transaction left to end (BEGIN failed, or the connection is gone)
        holder.close()
