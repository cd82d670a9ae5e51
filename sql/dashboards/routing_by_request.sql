-- Query dashboards/routing_by_request: did the IVR send each kind of request to the right place?
-- Question: per request type chosen in the IVR, how many calls were answered by the right
--   team first time, transferred, signposted elsewhere, or not routed?
-- Grain: request_type ('unknown' when nothing known was chosen), summed over $practices and
--   $dates from the analyst view routing_effectiveness.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: request_type, calls, answered, right_first_time, transferred, signposted,
--   unrouted, right_first_time_share (of answered, 0-1), signposted_share (of calls),
--   directed_share ((right first time + signposted) of calls).
SELECT
    request_type,
    sum(calls)::BIGINT AS calls,
    sum(answered)::BIGINT AS answered,
    sum(right_first_time)::BIGINT AS right_first_time,
    sum(transferred)::BIGINT AS transferred,
    sum(signposted)::BIGINT AS signposted,
    sum(unrouted)::BIGINT AS unrouted,
    sum(right_first_time) / nullif(sum(answered), 0) AS right_first_time_share,
    sum(signposted) / sum(calls) AS signposted_share,
    (sum(right_first_time) + sum(signposted)) / sum(calls) AS directed_share
FROM routing_effectiveness
WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
GROUP BY request_type
ORDER BY calls DESC, request_type
