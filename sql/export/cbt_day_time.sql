-- NHS CBT publication file "by day and time": CBT001-CBT006 per practice, day and time band.
-- Parameters: $month_start (first day), $month_end (first day of the next month).
-- Grain: local_date x practice x indicator x time band, for every band with at least one
--   inbound call: all six indicators, 0 included (CBT007 is in the durations file).
-- Columns (renamed to the publication headers by streams/export_cbt.py): local_date,
--   region_code, icb_code, sub_icb_code, pcn_code, practice, indicator, time_band, value.
SELECT
    c.local_date,
    c.region_code,
    c.icb_code,
    c.sub_icb_code,
    c.pcn_code,
    c.practice,
    i.indicator,
    c.time_band,
    count(*) FILTER (WHERE i.counts) AS value
FROM calls_with_hierarchy AS c,
    LATERAL (
        VALUES
            ('CBT001', true),
            ('CBT002', c.outcome = 'ended_in_ivr'),
            ('CBT003', c.outcome = 'answered'),
            ('CBT004', c.outcome = 'missed'),
            ('CBT005', c.outcome = 'callback_requested'),
            ('CBT006', c.outcome = 'callback_requested' AND c.callback_made)
    ) AS i (indicator, counts)
WHERE c.inbound AND c.local_date >= $month_start AND c.local_date < $month_end
GROUP BY ALL
