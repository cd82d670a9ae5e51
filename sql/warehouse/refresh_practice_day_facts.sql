-- Recompute practice_day_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls. Recomputed, never incremented, so a
-- replay or a correction leaves exactly what a full recount would.
-- Grain and columns: migration 022; one row per touched practice-day with an inbound call.
DELETE FROM practice_day_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO practice_day_facts
SELECT
    c.practice,
    c.local_date,
    count(*) AS inbound,
    count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
    count(*) FILTER (WHERE c.outcome = 'ended_in_ivr') AS ended_in_ivr,
    count(*) FILTER (WHERE c.outcome = 'missed') AS missed,
    count(*) FILTER (WHERE c.outcome = 'callback_requested') AS callback_requested,
    count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 60) AS answered_within_1min,
    count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 120) AS answered_within_2min,
    count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 300) AS answered_within_5min,
    count(*) FILTER (WHERE c.outcome = 'callback_requested' AND c.callback_made)
        AS callbacks_made,
    count(*) FILTER (WHERE c.outcome = 'callback_requested' AND c.callback_answered)
        AS callbacks_answered,
    count(*) FILTER (WHERE c.outcome = 'callback_requested' AND NOT c.callback_made)
        AS callbacks_not_made,
    count(*) FILTER (WHERE c.caller_key IS NULL) AS withheld_calls
FROM calls AS c
JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
WHERE c.inbound
GROUP BY c.practice, c.local_date;
