-- View peak_demand_8am_slots: the 8am scramble, in 15-minute slots from 07:30 to 10:30.
-- Question: how many calls arrive in each quarter hour around 8am (local time), and how many
--   of them get through?
-- Grain: practice x local_date x slot_start, all 12 slots (07:30, 07:45, ..., 10:15) for every
--   day the practice had an inbound call (0 when a slot had none). A call belongs to the slot
--   its start falls in, Europe/London local time (slot_start <= start < slot_end).
-- Columns: practice, local_date, weekday (ISO, 1 = Monday), slot_start, slot_end (TIME),
--   inbound_calls, answered, ended_in_ivr, missed, callback_requested.
-- Source: peak_slot_facts and practice_day_facts (migration 022), kept by the writer.
WITH slots AS (
    SELECT
        make_time(7 + (30 + 15 * i) // 60, (30 + 15 * i) % 60, 0) AS slot_start,
        make_time(7 + (45 + 15 * i) // 60, (45 + 15 * i) % 60, 0) AS slot_end
    FROM range(12) AS t (i)
)
SELECT
    d.practice,
    d.local_date,
    isodow(d.local_date) AS weekday,
    s.slot_start,
    s.slot_end,
    coalesce(f.inbound_calls, 0) AS inbound_calls,
    coalesce(f.answered, 0) AS answered,
    coalesce(f.ended_in_ivr, 0) AS ended_in_ivr,
    coalesce(f.missed, 0) AS missed,
    coalesce(f.callback_requested, 0) AS callback_requested
FROM practice_day_facts AS d
CROSS JOIN slots AS s
LEFT JOIN peak_slot_facts AS f
    ON f.practice = d.practice
    AND f.local_date = d.local_date
    AND f.slot_start = s.slot_start
