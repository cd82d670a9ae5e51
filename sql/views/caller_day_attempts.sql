-- View caller_day_attempts: each identified caller's attempts to reach a practice in a day.
-- Question: how many times did the same caller ring the same practice on the same day, and
--   on which attempt did they first get through to a person?
-- Grain: practice x local_date x caller_key (the pseudonym; withheld numbers have no key and
--   are not here). Attempts are the caller's inbound calls that day, ordered by start time
--   (call_attempts).
-- Columns: practice, local_date, caller_key, attempts, answered (any attempt answered),
--   first_answered_attempt (1 = first try; null when never answered), attempts_before_answer
--   (failed attempts before the first answered one; null when never answered),
--   callback_requested (any attempt asked for a callback), first_call_at, last_call_at (UTC).
SELECT
    practice,
    local_date,
    caller_key,
    count(*) AS attempts,
    bool_or(outcome = 'answered') AS answered,
    min(attempt) FILTER (WHERE outcome = 'answered') AS first_answered_attempt,
    min(attempt) FILTER (WHERE outcome = 'answered') - 1 AS attempts_before_answer,
    bool_or(outcome = 'callback_requested') AS callback_requested,
    min(started_at) AS first_call_at,
    max(started_at) AS last_call_at
FROM call_attempts
GROUP BY practice, local_date, caller_key
