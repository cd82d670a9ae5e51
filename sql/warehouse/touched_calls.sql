-- The calls of the (practice, local_date) keys a batch touched and of the day before and after
-- each, after its MERGE, as a temp table named `calls`: while it exists, every refresh of
-- AGGREGATES (and the views they read, cbt_call_indicators included) reads these calls
-- instead of scanning the lake's `calls` once per refresh. The rules stay where they are
-- written; only what they read shrinks. The neighbouring days are there for the refreshes
-- that need them (staffing_slot_facts recounts the day after from the calls of the day
-- before); the others filter on touched_days themselves.
-- Input: temp table touched_days (practice, local_date). Output: temp table calls, the
--   columns of view calls. Dropped (sql/warehouse/drop_touched_calls.sql) before the commit.
CREATE OR REPLACE TEMP TABLE calls AS
WITH days AS (
    SELECT DISTINCT practice, local_date + d AS local_date
    FROM touched_days, (VALUES (-1), (0), (1)) AS t (d)
)
SELECT c.*
FROM lake.main.calls AS c
JOIN days AS k ON c.practice = k.practice AND c.local_date = k.local_date;
