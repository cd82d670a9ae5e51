-- Query dashboards/alerts: the alerts raised about these practices' phones.
-- Question: when did the queue, the missed share or the feed of these practices go wrong,
--   and when did it recover?
-- Grain: one row per notice of the view alerts (a rule firing, or recovering after its
--   cool-down) for $practices on $dates (local dates), newest first.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: local_date, local_time, practice, rule, kind ('firing' | 'recovered'),
--   condition, value, sent ('yes' | 'no': the message was delivered).
SELECT
    local_date,
    local_time,
    practice,
    rule,
    kind,
    condition,
    value,
    CASE WHEN sent THEN 'yes' ELSE 'no' END AS sent
FROM alerts
WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
ORDER BY raised_at DESC
