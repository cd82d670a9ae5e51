-- NHS CBT publication file "calls answered": CBT003 by time band, wait bucket and core category.
-- Parameters: $month_start, $month_end (exclusive).
-- Grain: local_date x practice x time band x wait bucket x core category, combinations with
--   at least one answered call.
-- Columns: local_date, region_code, icb_code, sub_icb_code, pcn_code, practice, indicator,
--   time_band, wait_time, core_category, value.
SELECT
    local_date,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    practice,
    'CBT003' AS indicator,
    time_band,
    wait_bucket AS wait_time,
    core_category,
    count(*) AS value
FROM calls_with_hierarchy
WHERE inbound
    AND outcome = 'answered'
    AND local_date >= $month_start
    AND local_date < $month_end
GROUP BY ALL
