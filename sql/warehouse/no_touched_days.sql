-- An empty temp table touched_days (practice, local_date), for a commit that recomputes only
-- the keys deferred in fact_backlog (sql/warehouse/take_fact_backlog.sql).
CREATE OR REPLACE TEMP TABLE touched_days (practice VARCHAR, local_date DATE);
