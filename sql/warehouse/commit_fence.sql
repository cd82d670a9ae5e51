-- Run inside every write transaction of the warehouse writer: touches the one fence row, so
-- two writers committing at once conflict (DuckLake's optimistic commit) and the later one
-- is redone on the newer snapshot (connect.is_transient). Table: commit_fence (migration 020).
UPDATE commit_fence SET commits = commits + 1, committed_at = now()
