-- View callbacks: callbacks requested against callbacks made (CBT005 vs CBT006).
-- Question: did the practice call back the patients who asked for a callback, how soon,
--   and did the callback reach them?
-- Grain: practice x local_date (the day of the original call), days with at least one
--   callback request. A callback made after the day (or after the call ended) counts for
--   the original call's day.
-- Columns: practice, local_date, callbacks_requested, callbacks_made, callbacks_answered
--   (a callback reached the patient), callbacks_not_made, made_share (of requested, 0-1),
--   callback_wait_p50_s, callback_wait_p90_s (request to first callback, continuous
--   percentiles over callbacks made).
SELECT
    practice,
    local_date,
    count(*) AS callbacks_requested,
    count(*) FILTER (WHERE callback_made) AS callbacks_made,
    count(*) FILTER (WHERE callback_answered) AS callbacks_answered,
    count(*) FILTER (WHERE NOT callback_made) AS callbacks_not_made,
    count(*) FILTER (WHERE callback_made) / count(*) AS made_share,
    quantile_cont(callback_wait_s, 0.5) FILTER (WHERE callback_made) AS callback_wait_p50_s,
    quantile_cont(callback_wait_s, 0.9) FILTER (WHERE callback_made) AS callback_wait_p90_s
FROM calls
WHERE inbound AND outcome = 'callback_requested'
GROUP BY practice, local_date
