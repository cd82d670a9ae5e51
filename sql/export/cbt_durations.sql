-- NHS CBT publication file "durations": CBT007, answered calls by talk duration bucket.
-- Parameters: $month_start, $month_end (exclusive).
-- Grain: local_date x practice x duration bucket, buckets with at least one call. Answered
--   calls that have not ended have no duration yet and are not here; the export's
--   reconciliation (CBT007 total = CBT003 total) then fails and says how many.
-- Columns: local_date, region_code, icb_code, sub_icb_code, pcn_code, practice, indicator,
--   duration, value.
SELECT
    local_date,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    practice,
    'CBT007' AS indicator,
    duration_bucket AS duration,
    count(*) AS value
FROM calls_with_hierarchy
WHERE inbound
    AND outcome = 'answered'
    AND duration_bucket IS NOT NULL
    AND local_date >= $month_start
    AND local_date < $month_end
GROUP BY ALL
