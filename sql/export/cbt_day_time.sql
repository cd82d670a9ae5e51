-- NHS CBT publication file "by day and time": CBT001-CBT006 per practice, day and time band.
-- Parameters: $month_start (first day), $month_end (first day of the next month).
-- Grain: local_date x practice x indicator x time band, for every band with at least one
--   inbound call: all six indicators, 0 included (CBT007 is in the durations file).
-- Reads cbt_daily (the writer's materialised counts, from view cbt_call_indicators).
-- Columns (renamed to the publication headers by streams/outputs/export_cbt.py): local_date,
--   region_code, icb_code, sub_icb_code, pcn_code, practice, indicator, time_band, value.
SELECT
    d.local_date,
    coalesce(h.region_code, 'UNMAPPED') AS region_code,
    coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
    coalesce(h.sub_icb_code, 'UNMAPPED') AS sub_icb_code,
    coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
    d.practice,
    d.indicator,
    d.time_band,
    d.value
FROM cbt_daily AS d
LEFT JOIN practice_hierarchy AS h ON h.practice = d.practice
WHERE d.indicator <> 'CBT007' AND d.local_date >= $month_start AND d.local_date < $month_end
