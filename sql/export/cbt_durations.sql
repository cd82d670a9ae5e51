-- NHS CBT file "By Durations": every indicator per practice and day: TOTAL for those with no
--   time breakdown, CBT003 and CBT004 by wait bucket, CBT007 by talk bucket (the Duration
--   labels of each indicator are publication_labels').
-- Question: how long did the month's callers wait, and talk, per practice and day?
-- Grain: practice x local_date x indicator x Duration; TOTAL rows from cbt_daily, the others
--   from cbt_bucket_facts (the buckets of view cbt_call_indicators). Calls with no bucket
--   yet (answered not ended, missed with no end) are not here: the export's reconciliation
--   counts them. Written through sql/export/publication_rows.sql (as CTE `counts`).
-- Parameters: as sql/export/cbt_day_time.sql.
-- Columns: practice, local_date, indicator, Duration (the published label), value, sort_1
--   (the bucket's place in NHS order), sort_2.
WITH totals AS (
    SELECT practice, local_date, indicator, 'TOTAL' AS bucket, sum(value) AS value
    FROM cbt_daily
    WHERE local_date >= $month_start AND local_date < $month_end
    GROUP BY ALL
    UNION ALL
    SELECT practice, local_date, indicator, bucket, sum(value) AS value
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start AND local_date < $month_end AND bucket IS NOT NULL
    GROUP BY ALL
)
SELECT
    t.practice,
    t.local_date,
    t.indicator,
    l.label AS "Duration",
    t.value,
    l.rank AS sort_1,
    0 AS sort_2
FROM totals AS t
JOIN publication_labels AS l
    ON l.category = 'Duration' AND l.indicator = t.indicator AND l.ours = t.bucket
