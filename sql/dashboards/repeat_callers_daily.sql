-- Query dashboards/repeat_callers_daily: callers who had to ring again, per day.
-- Question: how many callers rang these practices 2+ and 3+ times in a day, and how many
--   never got through?
-- Grain: local_date, days in $dates with an inbound call; sums of the analyst view
--   repeat_callers over $practices (a caller is counted per practice).
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Filter: list_contains, not IN (SELECT unnest(...)): the view stacks two fact tables and
--   only a plain filter reaches both scans; the IN join read the whole month (0.4 s of a
--   one-practice page nationally, 0.05 s now; the other pages' queries measured faster with IN).
-- Columns: local_date, day (label), callers, callers_2plus, callers_3plus, repeat_calls,
--   callers_never_answered, withheld_calls.
SELECT
    local_date,
    strftime(local_date, '%a %d %b') AS day,
    sum(callers)::BIGINT AS callers,
    sum(callers_2plus)::BIGINT AS callers_2plus,
    sum(callers_3plus)::BIGINT AS callers_3plus,
    sum(repeat_calls)::BIGINT AS repeat_calls,
    sum(callers_never_answered)::BIGINT AS callers_never_answered,
    sum(withheld_calls)::BIGINT AS withheld_calls
FROM repeat_callers
WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
GROUP BY local_date
ORDER BY local_date
