-- Query dashboards/routing_daily: routing effectiveness day by day.
-- Question: on each day, what share of answered calls reached the right team first time, and
--   what share of calls was transferred or signposted?
-- Grain: local_date, days in $dates with an inbound call; sums of the analyst view
--   routing_effectiveness over $practices and request types.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: local_date, day (label), calls, answered, right_first_time, transferred,
--   signposted, right_first_time_share (of answered), transferred_share (of answered),
--   signposted_share (of calls), directed_share (of calls).
SELECT
    local_date,
    strftime(local_date, '%a %d %b') AS day,
    sum(calls)::BIGINT AS calls,
    sum(answered)::BIGINT AS answered,
    sum(right_first_time)::BIGINT AS right_first_time,
    sum(transferred)::BIGINT AS transferred,
    sum(signposted)::BIGINT AS signposted,
    sum(right_first_time) / nullif(sum(answered), 0) AS right_first_time_share,
    sum(transferred) / nullif(sum(answered), 0) AS transferred_share,
    sum(signposted) / sum(calls) AS signposted_share,
    (sum(right_first_time) + sum(signposted)) / sum(calls) AS directed_share
FROM routing_effectiveness
WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
GROUP BY local_date
ORDER BY local_date
