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
-- Source: routing_facts (migration 022), kept by the warehouse writer.
SELECT
    practice,
    local_date,
    request_type,
    calls,
    answered,
    right_first_time,
    transferred,
    signposted,
    unrouted,
    right_first_time / nullif(answered, 0) AS right_first_time_share,
    signposted / calls AS signposted_share,
    (right_first_time + signposted) / calls AS directed_share
FROM routing_facts
