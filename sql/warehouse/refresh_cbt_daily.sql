-- Recompute cbt_daily_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls. Recomputed, never incremented, so a
-- replay or a correction leaves exactly what a full recount would.
-- Which calls count for which indicator is defined once, in view cbt_call_indicators. Each
--   band with an inbound call gets all seven rows, zeros included; `incomplete` says how
--   many of `value` are calls without a call_ended yet.
DELETE FROM cbt_daily_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO cbt_daily_facts (practice, local_date, time_band, indicator, value, incomplete)
SELECT
    i.practice,
    i.local_date,
    i.time_band,
    i.indicator,
    count(*) FILTER (WHERE i.counts) AS value,
    count(*) FILTER (WHERE i.counts AND NOT i.complete) AS incomplete
FROM cbt_call_indicators AS i
JOIN touched_days AS k ON i.practice = k.practice AND i.local_date = k.local_date
GROUP BY i.practice, i.local_date, i.time_band, i.indicator;
