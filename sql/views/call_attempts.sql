-- View call_attempts: which attempt of the day each identified caller's call was.
-- Question: was this call the caller's first of the day to this practice, or a repeat?
-- Grain: one row per inbound call with a caller_key (withheld numbers have no key and are not
--   here). Attempts are the caller's inbound calls to the practice that local day, any
--   outcome, numbered by start time (then call_id): the one definition of a repeat call, used
--   by caller_day_attempts and staffing_quarter_hours.
-- Columns: practice, call_id, local_date, caller_key, started_at (UTC), outcome, attempt
--   (1 = the first call that day; 2+ = a repeat).
SELECT
    practice,
    call_id,
    local_date,
    caller_key,
    started_at,
    outcome,
    row_number() OVER (
        PARTITION BY practice, local_date, caller_key ORDER BY started_at, call_id
    ) AS attempt
FROM calls
WHERE inbound AND caller_key IS NOT NULL
