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
WITH callers AS (
    SELECT
        practice,
        local_date,
        count(*) AS callers,
        count(*) FILTER (WHERE attempts >= 2) AS callers_2plus,
        count(*) FILTER (WHERE attempts >= 3) AS callers_3plus,
        sum(attempts - 1)::BIGINT AS repeat_calls,
        count(*) FILTER (WHERE answered) AS callers_answered,
        avg(first_answered_attempt - 1) AS mean_attempts_before_answer,
        max(first_answered_attempt - 1) AS max_attempts_before_answer,
        count(*) FILTER (WHERE NOT answered) AS callers_never_answered
    FROM caller_day_facts
    GROUP BY practice, local_date
)
SELECT
    d.practice,
    d.local_date,
    coalesce(c.callers, 0) AS callers,
    coalesce(c.callers_2plus, 0) AS callers_2plus,
    coalesce(c.callers_3plus, 0) AS callers_3plus,
    coalesce(c.repeat_calls, 0) AS repeat_calls,
    d.withheld_calls,
    coalesce(c.callers_answered, 0) AS callers_answered,
    c.mean_attempts_before_answer,
    c.max_attempts_before_answer,
    coalesce(c.callers_never_answered, 0) AS callers_never_answered
FROM practice_day_facts AS d
LEFT JOIN callers AS c ON c.practice = d.practice AND c.local_date = d.local_date
