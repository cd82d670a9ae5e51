-- View routing_effectiveness: did the IVR send each request to the right place?
-- Question: for each request type the caller chose in the IVR, how many calls were answered
--   by the right team first time, transferred on, signposted to another organisation, or
--   not routed?
-- Grain: practice x local_date x request_type, inbound calls only; request_type 'unknown'
--   when the caller chose nothing known. routing as in docs/classification.md:
--   right_first_time = answered and never transferred to another team; transferred =
--   answered then transferred; signposted = diverted by the IVR; unrouted = the rest.
-- Columns: practice, local_date, request_type, calls, answered, right_first_time,
--   transferred, signposted, unrouted, right_first_time_share (of answered, null when none
--   answered), signposted_share (of calls), directed_share ((right_first_time + signposted)
--   / calls: requests sent straight to where they were dealt with).
SELECT
    practice,
    local_date,
    coalesce(request_type, 'unknown') AS request_type,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE routing = 'right_first_time') AS right_first_time,
    count(*) FILTER (WHERE routing = 'transferred') AS transferred,
    count(*) FILTER (WHERE routing = 'signposted') AS signposted,
    count(*) FILTER (WHERE routing = 'unrouted') AS unrouted,
    count(*) FILTER (WHERE routing = 'right_first_time')
        / nullif(count(*) FILTER (WHERE outcome = 'answered'), 0) AS right_first_time_share,
    count(*) FILTER (WHERE routing = 'signposted') / count(*) AS signposted_share,
    count(*) FILTER (WHERE routing IN ('right_first_time', 'signposted')) / count(*)
        AS directed_share
FROM calls
WHERE inbound
GROUP BY practice, local_date, coalesce(request_type, 'unknown')
