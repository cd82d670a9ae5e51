-- NHS CBT publication file "durations": CBT007, answered calls by talk duration bucket.
-- Parameters: $month_start, $month_end (exclusive).
-- Grain: local_date x practice x duration bucket, buckets with at least one call (the calls
--   counted for CBT007 in view cbt_call_indicators). Answered calls that have not ended have
--   no duration yet and are not here; the export's reconciliation (CBT007 total = CBT003
--   total) then fails and says how many.
-- Columns: local_date, region_code, icb_code, sub_icb_code, pcn_code, practice, indicator,
--   duration, value.
SELECT
    i.local_date,
    coalesce(h.region_code, 'UNMAPPED') AS region_code,
    coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
    coalesce(h.sub_icb_code, 'UNMAPPED') AS sub_icb_code,
    coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
    i.practice,
    i.indicator,
    i.duration_bucket AS duration,
    count(*) AS value
FROM cbt_call_indicators AS i
LEFT JOIN practice_hierarchy AS h ON h.practice = i.practice
WHERE i.indicator = 'CBT007'
    AND i.counts
    AND i.duration_bucket IS NOT NULL
    AND i.local_date >= $month_start
    AND i.local_date < $month_end
GROUP BY ALL
