-- Query dashboards/attempts_to_get_through: how many tries callers needed.
-- Question: how many callers got through to a person on their 1st, 2nd, 3rd ... attempt, and
--   how many rang and never got through?
-- Grain: attempts (1, 2, 3, 4, '5+' calls that day), from the analyst view
--   caller_day_attempts for $practices on $dates; withheld numbers are not identified and
--   not counted.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: attempts_order, attempts (label: '1 call' ... '5+ calls'), got_through
--   (callers who reached a person), never_got_through.
SELECT
    least(attempts, 5) AS attempts_order,
    CASE
        WHEN attempts = 1 THEN '1 call'
        WHEN attempts >= 5 THEN '5+ calls'
        ELSE attempts::VARCHAR || ' calls'
    END AS attempts,
    count(*) FILTER (WHERE answered) AS got_through,
    count(*) FILTER (WHERE NOT answered) AS never_got_through
FROM caller_day_attempts
WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
GROUP BY ALL
ORDER BY attempts_order
