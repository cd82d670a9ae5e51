-- NHS CBT publication file "calls answered": CBT003 by time band, wait bucket and core category.
-- Parameters: $month_start, $month_end (exclusive).
-- Grain: local_date x practice x time band x wait bucket x core category, combinations with
--   at least one answered call (the calls counted for CBT003 in view cbt_call_indicators).
-- Columns: local_date, region_code, icb_code, sub_icb_code, pcn_code, practice, indicator,
--   time_band, wait_time, core_category, value.
SELECT
    i.local_date,
    coalesce(h.region_code, 'UNMAPPED') AS region_code,
    coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
    coalesce(h.sub_icb_code, 'UNMAPPED') AS sub_icb_code,
    coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
    i.practice,
    i.indicator,
    i.time_band,
    i.wait_bucket AS wait_time,
    i.core_category,
    count(*) AS value
FROM cbt_call_indicators AS i
LEFT JOIN practice_hierarchy AS h ON h.practice = i.practice
WHERE i.indicator = 'CBT003'
    AND i.counts
    AND i.local_date >= $month_start
    AND i.local_date < $month_end
GROUP BY ALL
