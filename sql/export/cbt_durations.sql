-- NHS CBT file "By Durations": every indicator per practice and day: TOTAL for those with no
--   time breakdown, CBT003 and CBT004 by wait bucket, CBT007 by talk bucket (the Duration
--   labels of each indicator are publication_labels').
-- Question: how long did the month's callers wait, and talk, per practice and day (NHS
--   England's publication layout)?
-- Grain: local_date x practice x indicator x Duration; TOTAL rows from cbt_daily, the others
--   from cbt_bucket_facts (the buckets of view cbt_call_indicators). Calls with no bucket
--   yet (answered not ended, missed with no end) are not here: the export's reconciliation
--   counts them. Rows whose value is 0 only when $zero_rows.
-- Parameters: as sql/export/cbt_day_time.sql.
-- Columns: the published header (Date, REGION_CODE, ICB_CODE, SUB_ICB_LOCATION_CODE,
--   PCN_CODE, PRACTICE_CODE, Indicator, Duration, Value as text), then member, value_n,
--   sort_date, sort_1, sort_2.
WITH counts AS (
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
    strftime(c.local_date, $date_format) AS "Date",
    coalesce(h.region_code, $unmapped) AS "REGION_CODE",
    coalesce(h.icb_code, $unmapped) AS "ICB_CODE",
    coalesce(h.sub_icb_code, $unmapped) AS "SUB_ICB_LOCATION_CODE",
    coalesce(h.pcn_code, $unmapped) AS "PCN_CODE",
    c.practice AS "PRACTICE_CODE",
    c.indicator AS "Indicator",
    l.label AS "Duration",
    printf($value_format, c.value::DOUBLE) AS "Value",
    coalesce(h.region_code, $unmapped) AS member,
    c.value AS value_n,
    c.local_date AS sort_date,
    l.rank AS sort_1,
    0 AS sort_2
FROM counts AS c
JOIN publication_labels AS l
    ON l.category = 'Duration' AND l.indicator = c.indicator AND l.ours = c.bucket
LEFT JOIN practice_hierarchy AS h ON h.practice = c.practice
WHERE c.value > 0 OR $zero_rows
