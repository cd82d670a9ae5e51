-- View cbt_call_indicators: which of NHS England's CBT001-CBT007 each inbound call counts for.
-- Question: does this call count for CBT00n? The one definition of the counting rule
--   (docs/classification.md): cbt_daily_facts (sql/warehouse/refresh_cbt_daily.sql), the
--   export (sql/export/) and the reports select from it; nothing else restates it.
-- Indicators: CBT001 inbound calls; CBT002 ended in the IVR; CBT003 answered; CBT004 missed
--   (voicemail included); CBT005 callback requested; CBT006 callbacks made for CBT005 calls;
--   CBT007 answered calls by talk duration (the same calls as CBT003). Outbound calls never
--   count. Incomplete calls (complete = false) count with the outcome their events so far
--   support.
-- Grain: one row per inbound call x indicator (seven rows per call); `counts` says whether
--   the call counts for the indicator.
-- Columns: practice, call_id, local_date, time_band, core_category, wait_bucket,
--   duration_bucket, complete, indicator, counts.
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
    i.counts
FROM calls AS c,
    LATERAL (
        VALUES
            ('CBT001', true),
            ('CBT002', c.outcome = 'ended_in_ivr'),
            ('CBT003', c.outcome = 'answered'),
            ('CBT004', c.outcome = 'missed'),
            ('CBT005', c.outcome = 'callback_requested'),
            ('CBT006', c.outcome = 'callback_requested' AND c.callback_made),
            ('CBT007', c.outcome = 'answered')
    ) AS i (indicator, counts)
WHERE c.inbound
