-- Recompute caller_day_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls (recomputed, never incremented).
-- Grain and columns: migration 022; one row per known caller (caller_key not null) per
--   touched practice-day. Attempts are numbered by started_at, then call_id.
DELETE FROM caller_day_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO caller_day_facts
WITH attempts AS (
    SELECT
        c.practice,
        c.local_date,
        c.caller_key,
        c.started_at,
        c.outcome,
        row_number() OVER (
            PARTITION BY c.practice, c.local_date, c.caller_key ORDER BY c.started_at, c.call_id
        ) AS attempt
    FROM calls AS c
    JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
    WHERE c.inbound AND c.caller_key IS NOT NULL
)
SELECT
    practice,
    local_date,
    caller_key,
    count(*) AS attempts,
    bool_or(outcome = 'answered') AS answered,
    min(attempt) FILTER (WHERE outcome = 'answered') AS first_answered_attempt,
    bool_or(outcome = 'callback_requested') AS callback_requested,
    min(started_at) AS first_call_at,
    max(started_at) AS last_call_at
FROM attempts
GROUP BY practice, local_date, caller_key;
