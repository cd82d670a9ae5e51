-- View cbt_daily: NHS England's CBT001-CBT007 per practice, day and time band.
-- Question: how many inbound calls did each practice get, and how did they end, per time band?
-- Grain: practice x local_date x time_band x indicator; for every band with at least one
--   inbound call all seven indicators are present (value 0 included); bands with no inbound
--   call have no rows. Outbound calls never count.
-- Indicators (docs/classification.md): CBT001 inbound calls; CBT002 ended in the IVR;
--   CBT003 answered; CBT004 missed (voicemail included); CBT005 callback requested;
--   CBT006 callbacks made for CBT005 calls; CBT007 answered calls by talk duration (the
--   count equals CBT003; answered calls not yet ended have no duration bucket yet).
-- Incomplete calls (no call_ended yet, complete = false) count with the outcome their events
--   so far support; `incomplete` says how many of `value` they are, so a day still open can
--   be told from a final one.
-- Columns: practice, local_date, time_band, indicator, value, incomplete.
SELECT
    c.practice,
    c.local_date,
    c.time_band,
    i.indicator,
    count(*) FILTER (WHERE i.counts) AS value,
    count(*) FILTER (WHERE i.counts AND NOT c.complete) AS incomplete
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
GROUP BY c.practice, c.local_date, c.time_band, i.indicator
