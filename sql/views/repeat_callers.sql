-- View repeat_callers: the 8am scramble made visible: callers who had to ring again.
-- Question: how many callers rang a practice 2+ and 3+ times in a day, and how many failed
--   attempts did callers make before first reaching a person?
-- Grain: practice x local_date, days with at least one inbound call. Callers are identified
--   by caller_key (pseudonym); calls with a withheld number are counted apart.
-- Columns: practice, local_date, callers (distinct identified callers), callers_2plus,
--   callers_3plus, repeat_calls (attempts beyond each caller's first), withheld_calls,
--   callers_answered, mean_attempts_before_answer and max_attempts_before_answer (over
--   callers who got through; null when none did), callers_never_answered.
-- Source: caller_day_facts and practice_day_facts (migration 022), kept by the writer.
-- Shape: the practice-day's row and its callers' rows stacked and grouped, not a LEFT JOIN to
--   the callers counted per day, so a filter on practice or local_date reaches both fact
--   tables' scans; with the join every caller-day of the month was counted (0.4 s of a
--   one-practice page nationally).
WITH stacked AS (
    SELECT
        practice,
        local_date,
        withheld_calls
    FROM practice_day_facts
    UNION ALL BY NAME
    SELECT
        practice,
        local_date,
        attempts,
        answered,
        first_answered_attempt
    FROM caller_day_facts
)

SELECT
    practice,
    local_date,
    count(attempts) AS callers,
    count(*) FILTER (WHERE attempts >= 2) AS callers_2plus,
    count(*) FILTER (WHERE attempts >= 3) AS callers_3plus,
    coalesce(sum(attempts - 1), 0)::BIGINT AS repeat_calls,
    max(withheld_calls) AS withheld_calls,
    count(*) FILTER (WHERE answered) AS callers_answered,
    avg(first_answered_attempt - 1) AS mean_attempts_before_answer,
    max(first_answered_attempt - 1) AS max_attempts_before_answer,
    count(*) FILTER (WHERE NOT answered) AS callers_never_answered
FROM stacked
GROUP BY practice, local_date
HAVING max(withheld_calls) IS NOT NULL
