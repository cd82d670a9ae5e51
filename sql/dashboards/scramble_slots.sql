-- Query dashboards/scramble_slots: the 8am scramble for a group of practices.
-- Question: how many calls arrived in each quarter hour from 07:30 to 10:30, and what share of
--   them was missed?
-- Grain: slot (12 quarter hours, 07:30 ... 10:15), summed over $practices and $dates from the
--   analyst view peak_demand_8am_slots (all 12 slots present when any practice had a call).
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Filter: list_contains, not IN (SELECT unnest(...)): the view stacks two fact tables and
--   only a plain filter reaches both scans; the IN join read the whole month (0.4 s of a
--   one-practice page nationally, 0.05 s now; the other pages' queries measured faster with IN).
-- Columns: slot_start (TIME), slot (label '07:30'), inbound_calls, answered, ended_in_ivr,
--   missed, callback_requested, missed_share (missed of inbound in the slot, 0-1; null when
--   the slot had no call).
SELECT
    slot_start,
    strftime(DATE '2000-01-01' + slot_start, '%H:%M') AS slot,
    sum(inbound_calls)::BIGINT AS inbound_calls,
    sum(answered)::BIGINT AS answered,
    sum(ended_in_ivr)::BIGINT AS ended_in_ivr,
    sum(missed)::BIGINT AS missed,
    sum(callback_requested)::BIGINT AS callback_requested,
    sum(missed) / nullif(sum(inbound_calls), 0) AS missed_share
FROM peak_demand_8am_slots
WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
GROUP BY slot_start
ORDER BY slot_start
