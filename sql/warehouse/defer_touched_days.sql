-- Record the keys in temp table touched_days (practice, local_date) in fact_backlog
-- (migration 025), instead of recomputing their facts in this commit: a later commit does,
-- from the calls as they are then (sql/warehouse/take_fact_backlog.sql).
INSERT INTO fact_backlog (practice, local_date, deferred_at)
SELECT practice, local_date, now() FROM touched_days;
