-- The snapshot a reader attached with SNAPSHOT_VERSION sees. Parameter: $version.
-- Columns: snapshot_id, snapshot_time (UTC).
SELECT snapshot_id, snapshot_time
FROM lake.snapshots()
WHERE snapshot_id = $version
