"""Warehouse maintenance (compaction, snapshot expiry) by one worker at a time.

Every worker runs the maintenance timer, but only the holder of the lease in the catalog
(table maintenance_lease, migration 020) does the work: two workers compacting the same
tables at once would only make each other's commits fail. The holder renews the lease on
each round; when it dies, another worker takes over once the lease has expired. Taking
the lease is itself an optimistic DuckLake commit: of two workers that try at once, the
second one's commit conflicts and it leaves the work to the first.
"""

from __future__ import annotations

import os
import socket
import uuid

import duckdb

from streams.warehouse import sqlfiles
from streams.warehouse.connect import is_transient
from streams.warehouse.store import Warehouse


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
    row = warehouse.conn.execute("SELECT holder FROM maintenance_lease").fetchone()
    return row[0] if row else ""


def maintain(warehouse: Warehouse, holder: str, every_s: float, retention_s: float) -> bool:
    """One maintenance round: if this worker holds the lease (for two rounds, so it keeps
    it while alive), compact and expire snapshots. Returns whether it did."""
    if not take_lease(warehouse, holder, 2 * every_s):
        return False
    warehouse.compact()
    warehouse.expire_snapshots(retention_s)
    return True
