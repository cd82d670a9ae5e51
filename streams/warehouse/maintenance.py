"""Warehouse maintenance (compaction, snapshot expiry) by one worker at a time.

Every worker runs the maintenance timer, but only the holder of the lease in the catalog
(table maintenance_lease, migration 020) does the work: two workers compacting the same
tables at once would only make each other's commits fail (and DuckLake's compaction has
failed internally when they did). The holder renews the lease on each round; when it dies,
another worker takes over once the lease has expired. Taking
the lease is itself an optimistic DuckLake commit: of two workers that try at once, the
second one's commit conflicts and it leaves the work to the first.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

import duckdb

from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.commit_turn import commit_turn
from streams.warehouse.connect import catalog_uri, is_transient
from streams.warehouse.store import Warehouse

MIN_LEASE_S = 600.0


def holder_id() -> str:
    """Who this process is in the lease: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(warehouse: Warehouse, holder: str, lease_s: float) -> bool:
    """Take or renew the maintenance lease for ``lease_s`` seconds; False when another
    worker holds it, or took it at the same moment."""
    conn = warehouse.conn
    conn.execute("BEGIN TRANSACTION")
    try:
        updated = conn.execute(
            sqlfiles.read("warehouse/take_maintenance_lease.sql"),
            {"holder": holder, "lease_s": float(lease_s)},
        ).fetchone()
        if not updated or not updated[0]:
            conn.execute("ROLLBACK")
            return False
        conn.execute("COMMIT")
    except duckdb.Error as exc:
        warehouse.rollback()
        if is_transient(exc):
            return False
        raise
    return True


def lease_holder(warehouse: Warehouse) -> str:
    """The worker that holds (or last held) the lease; '' when nobody ever took it."""
    # Every row fetched: a result left unread keeps a read transaction on a SQLite catalog
    # open, and a writer's commit meanwhile fails "database is locked".
    rows = warehouse.conn.execute("SELECT holder FROM maintenance_lease").fetchall()
    return rows[0][0] if rows else ""


def lease_seconds(every_s: float) -> float:
    """Two rounds, so a live holder keeps it; and long enough that a round (compaction of
    a large table) ends before the lease does."""
    return max(2 * every_s, MIN_LEASE_S)


def maintain(warehouse: Warehouse, holder: str, every_s: float, retention_s: float) -> bool:
    """One maintenance round: if this worker holds the lease, compact and expire snapshots.
    Returns whether it did."""
    if not take_lease(warehouse, holder, lease_seconds(every_s)):
        return False
    # In the writers' turn: their commits wait rather than make compaction fail (or it them).
    with commit_turn(warehouse.conn, catalog_uri(warehouse.settings)):
        warehouse.compact()
        warehouse.expire_snapshots(retention_s)
    return True


def small_lease_seconds(every_s: float) -> float:
    """The lease as a light round renews it: four of its periods. So when the holder dies
    another worker takes the light rounds over within minutes, not a full round's lease
    (half an hour), while the dead one's files pile up; a full round renews it for its own
    length again before it starts (and light rounds wait for it)."""
    return 4 * every_s


def maintain_small(warehouse: Warehouse, holder: str, every_s: float, max_file_bytes: int) -> bool:
    """One light round (``Warehouse.compact_small``), by the lease holder only, like a full
    round; ``every_s`` is the light rounds' period. Whether it did."""
    if not take_lease(warehouse, holder, small_lease_seconds(every_s)):
        return False
    with commit_turn(warehouse.conn, catalog_uri(warehouse.settings)):
        warehouse.compact_small(max_file_bytes)
    return True


class Maintainer:
    """One worker's maintenance: the lease holder id, and a DuckDB instance of its own.

    Its own instance because a DuckLake internal error in compaction (a known DuckLake
    bug, duckdb/ducklake#525) invalidates the instance it happens in: that must never be
    the writer's. After any failure the instance is dropped and the next round opens a
    fresh one. The worker runs both kinds of round on its writer's thread, between two of
    its commits: on a SQLite catalog a round beside a commit failed "database is locked"
    (its catalog read is stale by the time it commits). The instance has the writer's
    DuckDB threads, so a round leaves the event loop the rest of the machine.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.holder = holder_id()
        self.warehouse: Warehouse | None = None

    def round(self) -> bool:
        """Run one full round (blocking: call it off the event loop); whether this worker
        did."""
        s = self.settings
        return self._run(
            lambda w: maintain(w, self.holder, s.compact_every_s, s.snapshot_retention_s)
        )

    def small_round(self) -> bool:
        """Run one light round (blocking); whether this worker did."""
        s = self.settings
        return self._run(
            lambda w: maintain_small(
                w, self.holder, s.compact_small_every_s, s.compact_small_file_bytes
            )
        )

    def _run(self, work: Callable[[Warehouse], bool]) -> bool:
        if self.warehouse is None:
            self.warehouse = Warehouse.open(self.settings, prepare=False)
            self.warehouse.conn.execute(f"SET threads = {int(self.settings.writer_threads)}")
        try:
            return work(self.warehouse)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.warehouse is not None:
            self.warehouse.close()
            self.warehouse = None
