-- NHS CBT file "Calls Answered Metric": CBT003 per practice, day, wait bucket and core
--   category (no time band).
-- Question: how long did the month's answered callers wait, in and out of core hours?
-- Grain: practice x local_date x wait bucket x core category, from cbt_bucket_facts (the
--   calls view cbt_call_indicators counts, by wait bucket, for the indicators that have
--   Wait_Time labels: CBT003); only combinations with calls. Written through
--   sql/export/publication_rows.sql (as CTE `counts`).
-- Parameters: as sql/export/cbt_day_time.sql.
-- Columns: practice, local_date, indicator, Wait_Time, Core_Category (the published labels),
--   value, sort_1, sort_2 (their places in NHS order).
WITH totals AS (
    SELECT practice, local_date, indicator, bucket, core_category, sum(value) AS value
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start AND local_date < $month_end AND bucket IS NOT NULL
    GROUP BY ALL
)
SELECT
    t.practice,
    t.local_date,
    t.indicator,
    w.label AS "Wait_Time",
    k.label AS "Core_Category",
    t.value,
    w.rank AS sort_1,
    k.rank AS sort_2
FROM totals AS t
JOIN publication_labels AS w
    ON w.category = 'Wait_Time' AND w.indicator = t.indicator AND w.ours = t.bucket
JOIN publication_labels AS k
    ON k.category = 'Core_Category' AND k.indicator = t.indicator AND k.ours = t.core_category
