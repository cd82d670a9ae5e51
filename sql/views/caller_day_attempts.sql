-- View caller_day_attempts: each identified caller's attempts to reach a practice in a day.
-- Question: how many times did the same caller ring the same practice on the same day, and
--   on which attempt did they first get through to a person?
-- Grain: practice x local_date x caller_key (the pseudonym; withheld numbers have no key and
--   are not here). Attempts are the caller's inbound calls that day, ordered by start time.
-- Columns: practice, local_date, caller_key, attempts, answered (any attempt answered),
--   first_answered_attempt (1 = first try; null when never answered), attempts_before_answer
--   (failed attempts before the first answered one; null when never answered),
--   callback_requested (any attempt asked for a callback), first_call_at, last_call_at (UTC).
-- Source: caller_day_facts (migration 022), kept by the warehouse writer; attempts
--   numbered as in call_attempts.
SELECT
    practice,
    local_date,
    caller_key,
    attempts,
    answered,
    first_answered_attempt,
    first_answered_attempt - 1 AS attempts_before_answer,
    callback_requested,
    first_call_at,
    last_call_at
FROM caller_day_facts
