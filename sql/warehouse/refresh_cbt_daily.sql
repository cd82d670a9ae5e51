-- Recompute cbt_daily_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from classified_calls. Recomputed, never incremented,
-- so a replay or a correction leaves exactly what a full recount would.
-- Indicators (docs/classification.md, inbound calls only): CBT001 inbound calls; CBT002
--   ended in the IVR; CBT003 answered; CBT004 missed (voicemail included); CBT005 callback
--   requested; CBT006 callbacks made for CBT005 calls; CBT007 answered calls by talk duration
--   (its count equals CBT003). Each band with an inbound call gets all seven rows, zeros
--   included. Incomplete calls (complete = false) count with the outcome their events so far
--   support; `incomplete` says how many of `value` they are.
DELETE FROM cbt_daily_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO cbt_daily_facts (practice, local_date, time_band, indicator, value, incomplete)
SELECT
    c.practice,
    c.local_date,
    c.time_band,
    i.indicator,
    count(*) FILTER (WHERE i.counts) AS value,
    count(*) FILTER (WHERE i.counts AND NOT c.complete) AS incomplete
FROM classified_calls AS c
JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date,
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
GROUP BY c.practice, c.local_date, c.time_band, i.indicator;
