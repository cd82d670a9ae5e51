-- View answer_speed: how quickly answered calls were answered.
-- Question: what share of a practice's answered calls were answered within 1, 2 and 5
--   minutes, and what were the median (p50) and p90 waits?
-- Grain: practice x local_date, days with at least one answered inbound call. Waits as in
--   CBT003 (from queue join, else ringing, else call start; whole seconds). "Within 1 minute"
--   is wait_s <= 60 (the NHS wait buckets' upper bounds are inclusive). Percentiles are
--   continuous (linear interpolation between the two nearest waits).
-- Columns: practice, local_date, answered, answered_within_1min, answered_within_2min,
--   answered_within_5min, share_within_1min, share_within_2min, share_within_5min
--   (of answered, 0-1), wait_p50_s, wait_p90_s.
SELECT
    practice,
    local_date,
    count(*) AS answered,
    count(*) FILTER (WHERE wait_s <= 60) AS answered_within_1min,
    count(*) FILTER (WHERE wait_s <= 120) AS answered_within_2min,
    count(*) FILTER (WHERE wait_s <= 300) AS answered_within_5min,
    count(*) FILTER (WHERE wait_s <= 60) / count(*) AS share_within_1min,
    count(*) FILTER (WHERE wait_s <= 120) / count(*) AS share_within_2min,
    count(*) FILTER (WHERE wait_s <= 300) / count(*) AS share_within_5min,
    quantile_cont(wait_s, 0.5) AS wait_p50_s,
    quantile_cont(wait_s, 0.9) AS wait_p90_s
FROM calls
WHERE inbound AND outcome = 'answered'
GROUP BY practice, local_date
