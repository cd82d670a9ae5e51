-- How many deferred keys fact_backlog (migration 025) holds: none, and a commit that changed
-- no call has no fact to recompute.
SELECT count(*) FROM fact_backlog;
