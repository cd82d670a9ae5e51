-- Upkeep: the snapshots older than the retention; the newest is always kept.
-- Parameter: $older_than_s (seconds). Columns: snapshot_id.
-- Chosen here, where DuckDB compares the times, and then expired by id: with a SQLite catalog
-- ducklake_expire_snapshots(older_than => ...) expired every snapshot but the newest, however
-- recent (DuckLake 1.5.5), so exports pinned to a snapshot lost it within one round.
SELECT snapshot_id
FROM lake.snapshots()
WHERE snapshot_time < now() - to_seconds($older_than_s)
  AND snapshot_id < (SELECT max(snapshot_id) FROM lake.snapshots())
ORDER BY snapshot_id
