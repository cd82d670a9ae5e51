-- View cbt_call_indicators: which of NHS England's CBT001-CBT007 each inbound call counts for.
-- Question: does this call count for CBT00n? The one definition of the counting rule
--   (docs/classification.md): cbt_daily_facts (sql/warehouse/refresh_cbt_daily.sql), the
--   export (sql/export/) and the reports select from it; nothing else restates it.
-- Indicators: CBT001 inbound calls; CBT002 ended in the IVR; CBT003 answered; CBT004 missed
--   (voicemail included); CBT005 callback requested; CBT006 callbacks made for CBT005 calls;
--   CBT007 answered calls by talk duration (the same calls as CBT003). Outbound calls never
--   count. Incomplete calls (complete = false) count with the outcome their events so far
--   support.
-- Buckets: CBT003 and CBT004 are counted by the call's wait bucket, CBT007 by its talk
--   duration bucket (NHS England's durations and calls answered files); the others have none.
-- Grain: one row per inbound call x indicator (seven rows per call); `counts` says whether
--   the call counts for the indicator.
-- Columns: practice, call_id, local_date, time_band, core_category, wait_bucket,
--   duration_bucket, complete, indicator, counts, bucket_kind ('wait', 'duration' or null),
--   bucket (the call's bucket of that kind; null when it has none yet).
SELECT
    c.practice,
    c.call_id,
    c.local_date,
    c.time_band,
    c.core_category,
    c.wait_bucket,
    c.duration_bucket,
    c.complete,
    i.indicator,
    i.counts,
    i.bucket_kind,
    i.bucket
FROM calls AS c,
    LATERAL (
        VALUES
            ('CBT001', true, NULL, NULL),
            ('CBT002', c.outcome = 'ended_in_ivr', NULL, NULL),
            ('CBT003', c.outcome = 'answered', 'wait', c.wait_bucket),
            ('CBT004', c.outcome = 'missed', 'wait', c.wait_bucket),
            ('CBT005', c.outcome = 'callback_requested', NULL, NULL),
            ('CBT006', c.outcome = 'callback_requested' AND c.callback_made, NULL, NULL),
            ('CBT007', c.outcome = 'answered', 'duration', c.duration_bucket)
    ) AS i (indicator, counts, bucket_kind, bucket)
WHERE c.inbound
