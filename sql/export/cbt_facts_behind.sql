-- Practice-days of the month whose calls are newer than their facts: a commit under load
--   left their recount to a later one (fact_backlog, migration 025; the worker recounts
--   them within CALLSTREAM_FACTS_EVERY_S while it runs). The export reads the facts, so it
--   waits for these rather than publish figures that lag the calls.
-- Parameters: $month_start, $month_end (exclusive).
-- Columns: practice_days (BIGINT), first_day (DATE, null when none).
SELECT count(DISTINCT (practice, local_date)) AS practice_days, min(local_date) AS first_day
FROM fact_backlog
WHERE local_date >= $month_start AND local_date < $month_end
