-- Migration 020: what lets several workers write one warehouse (docs/deploy.md).
-- Question: has another writer committed since this transaction began, and which worker
--   runs the warehouse maintenance now?
-- Grain: one row in each table, created here (a row inserted later by two writers at once
--   would be two rows: DuckLake does not see two blind inserts as a conflict).
--   commit_fence: every write transaction of the writer updates its row
--   (sql/warehouse/commit_fence.sql), so two concurrent writes always conflict and the
--   later one is redone on the newer snapshot: aggregates recomputed per practice and day,
--   whose calls arrive through every partition, never miss the other writer's calls.
--   maintenance_lease: the worker named in `holder` runs compaction and snapshot expiry
--   until `expires_at` (sql/warehouse/take_maintenance_lease.sql).
-- Columns: commit_fence: commits (write transactions so far), committed_at (UTC, the last).
--   maintenance_lease: holder (host:pid:id of the worker, '' when never taken),
--   expires_at (UTC).
CREATE TABLE IF NOT EXISTS commit_fence (
    commits      BIGINT      NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL
);
INSERT INTO commit_fence
SELECT 0, now() WHERE NOT EXISTS (SELECT 1 FROM commit_fence);
CREATE TABLE IF NOT EXISTS maintenance_lease (
    holder     VARCHAR     NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO maintenance_lease
SELECT '', TIMESTAMPTZ '1970-01-01 00:00:00+00' WHERE NOT EXISTS (SELECT 1 FROM maintenance_lease);
