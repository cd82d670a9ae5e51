-- NHS CBT file "Calls Answered Metric": CBT003 per practice, day, wait bucket and core
--   category (no time band).
-- Question: how long did the month's answered callers wait, in and out of core hours (NHS
--   England's publication layout)?
-- Grain: local_date x practice x wait bucket x core category, from cbt_bucket_facts (the
--   calls view cbt_call_indicators counts, by wait bucket, for the indicators that have
--   Wait_Time labels: CBT003); only combinations
--   with calls.
-- Parameters: as sql/export/cbt_day_time.sql.
-- Columns: the published header (Date, REGION_CODE, ICB_CODE, SUB_ICB_LOCATION_CODE,
--   PCN_CODE, PRACTICE_CODE, Indicator, Wait_Time, Core_Category, Value as text), then
--   member, value_n, sort_date, sort_1, sort_2.
WITH counts AS (
    SELECT practice, local_date, indicator, bucket, core_category, sum(value) AS value
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start
        AND local_date < $month_end
        AND bucket IS NOT NULL
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
    w.label AS "Wait_Time",
    k.label AS "Core_Category",
    printf($value_format, c.value::DOUBLE) AS "Value",
    coalesce(h.region_code, $unmapped) AS member,
    c.value AS value_n,
    c.local_date AS sort_date,
    w.rank AS sort_1,
    k.rank AS sort_2
FROM counts AS c
JOIN publication_labels AS w
    ON w.category = 'Wait_Time' AND w.indicator = c.indicator AND w.ours = c.bucket
JOIN publication_labels AS k
    ON k.category = 'Core_Category' AND k.indicator = c.indicator AND k.ours = c.core_category
LEFT JOIN practice_hierarchy AS h ON h.practice = c.practice
WHERE c.value > 0 OR $zero_rows
