-- Query dashboards/daily_outcomes: a group of practices' day, NHS England's outcomes.
-- Question: how many inbound calls did these practices get on each of these days, how did they
--   end, how many were answered within 2 minutes, and were callbacks made?
-- Grain: local_date, the days in $dates with at least one inbound call at any practice in
--   $practices. Sums of practice_day_facts (the writer's per practice-day counts) over
--   the practices, so a PCN's figure is its practices' figures added up.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: local_date, day (label, e.g. 'Wed 05 Aug'), inbound, answered, ended_in_ivr,
--   missed, callback_requested, answered_share, missed_share (of inbound, 0-1),
--   answered_within_2min, share_within_2min (of answered, 0-1), callbacks_requested,
--   callbacks_made, callbacks_answered, callbacks_not_made.
SELECT
    local_date,
    strftime(local_date, '%a %d %b') AS day,
    sum(inbound)::BIGINT AS inbound,
    sum(answered)::BIGINT AS answered,
    sum(ended_in_ivr)::BIGINT AS ended_in_ivr,
    sum(missed)::BIGINT AS missed,
    sum(callback_requested)::BIGINT AS callback_requested,
    sum(answered) / sum(inbound) AS answered_share,
    sum(missed) / sum(inbound) AS missed_share,
    sum(answered_within_2min)::BIGINT AS answered_within_2min,
    sum(answered_within_2min) / nullif(sum(answered), 0) AS share_within_2min,
    sum(callback_requested)::BIGINT AS callbacks_requested,
    sum(callbacks_made)::BIGINT AS callbacks_made,
    sum(callbacks_answered)::BIGINT AS callbacks_answered,
    sum(callbacks_not_made)::BIGINT AS callbacks_not_made
FROM practice_day_facts
WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
GROUP BY local_date
ORDER BY local_date
