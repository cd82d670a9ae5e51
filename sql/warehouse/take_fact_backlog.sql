-- Add the keys deferred in fact_backlog (migration 025) to temp table touched_days, so this
-- commit's fact refreshes recompute them too, and empty the backlog in the same transaction.
-- A writer that emptied it concurrently conflicts on the commit fence: this one is redone.
-- Input and output: temp table touched_days (practice, local_date).
INSERT INTO touched_days
SELECT DISTINCT practice, local_date FROM fact_backlog
EXCEPT
SELECT practice, local_date FROM touched_days;

DELETE FROM fact_backlog;
