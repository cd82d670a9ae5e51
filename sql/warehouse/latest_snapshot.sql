-- The warehouse's current DuckLake snapshot: what "data as of" means for a reader.
-- Columns: snapshot_id, snapshot_time (UTC).
SELECT snapshot_id, snapshot_time
FROM lake.snapshots()
ORDER BY snapshot_id DESC
LIMIT 1
