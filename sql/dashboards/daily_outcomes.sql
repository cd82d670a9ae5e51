-- Query dashboards/daily_outcomes: a group of practices' day, NHS England's outcomes.
-- Question: how many inbound calls did these practices get on each of these days, how did they
--   end, how many were answered within 2 minutes, and were callbacks made?
-- Grain: local_date, the days in $dates with at least one inbound call at any practice in
--   $practices. Sums of the analyst views outcome_shares, answer_speed and callbacks over
--   the practices, so a PCN's figure is its practices' figures added up.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: local_date, day (label, e.g. 'Wed 05 Aug'), inbound, answered, ended_in_ivr,
--   missed, callback_requested, answered_share, missed_share (of inbound, 0-1),
--   answered_within_2min, share_within_2min (of answered, 0-1), callbacks_requested,
--   callbacks_made, callbacks_answered, callbacks_not_made.
WITH outcomes AS (
    SELECT
        local_date,
        sum(inbound) AS inbound,
        sum(answered) AS answered,
        sum(ended_in_ivr) AS ended_in_ivr,
        sum(missed) AS missed,
        sum(callback_requested) AS callback_requested
    FROM outcome_shares
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
    GROUP BY local_date
),
speed AS (
    SELECT local_date, sum(answered_within_2min) AS answered_within_2min
    FROM answer_speed
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
    GROUP BY local_date
),
callbacks AS (
    SELECT
        local_date,
        sum(callbacks_requested) AS callbacks_requested,
        sum(callbacks_made) AS callbacks_made,
        sum(callbacks_answered) AS callbacks_answered,
        sum(callbacks_not_made) AS callbacks_not_made
    FROM callbacks
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
    GROUP BY local_date
)
SELECT
    o.local_date,
    strftime(o.local_date, '%a %d %b') AS day,
    o.inbound::BIGINT AS inbound,
    o.answered::BIGINT AS answered,
    o.ended_in_ivr::BIGINT AS ended_in_ivr,
    o.missed::BIGINT AS missed,
    o.callback_requested::BIGINT AS callback_requested,
    o.answered / o.inbound AS answered_share,
    o.missed / o.inbound AS missed_share,
    coalesce(s.answered_within_2min, 0)::BIGINT AS answered_within_2min,
    s.answered_within_2min / nullif(o.answered, 0) AS share_within_2min,
    coalesce(c.callbacks_requested, 0)::BIGINT AS callbacks_requested,
    coalesce(c.callbacks_made, 0)::BIGINT AS callbacks_made,
    coalesce(c.callbacks_answered, 0)::BIGINT AS callbacks_answered,
    coalesce(c.callbacks_not_made, 0)::BIGINT AS callbacks_not_made
FROM outcomes AS o
LEFT JOIN speed AS s ON s.local_date = o.local_date
LEFT JOIN callbacks AS c ON c.local_date = o.local_date
ORDER BY o.local_date
