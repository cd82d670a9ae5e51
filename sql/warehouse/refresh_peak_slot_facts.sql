-- Recompute peak_slot_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls (recomputed, never incremented).
-- Grain and columns: migration 022; quarter hours from 07:30 to 10:15 local time (the start of
--   the call, Europe/London) with at least one inbound call.
DELETE FROM peak_slot_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO peak_slot_facts
WITH early AS (
    SELECT
        c.practice,
        c.local_date,
        (c.started_at AT TIME ZONE 'Europe/London')::TIME AS local_time,
        c.outcome
    FROM calls AS c
    JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
    WHERE c.inbound
)
SELECT
    practice,
    local_date,
    make_time(hour(local_time), minute(local_time) // 15 * 15, 0) AS slot_start,
    count(*) AS inbound_calls,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'ended_in_ivr') AS ended_in_ivr,
    count(*) FILTER (WHERE outcome = 'missed') AS missed,
    count(*) FILTER (WHERE outcome = 'callback_requested') AS callback_requested
FROM early
WHERE local_time >= TIME '07:30:00' AND local_time < TIME '10:30:00'
GROUP BY ALL;
