-- View peak_demand_8am_slots: the 8am scramble, in 15-minute slots from 07:30 to 10:30.
-- Question: how many calls arrive in each quarter hour around 8am (local time), and how many
--   of them get through?
-- Grain: practice x local_date x slot_start, all 12 slots (07:30, 07:45, ..., 10:15) for every
--   day the practice had an inbound call (0 when a slot had none). A call belongs to the slot
--   its start falls in, Europe/London local time (slot_start <= start < slot_end).
-- Columns: practice, local_date, weekday (ISO, 1 = Monday), slot_start, slot_end (TIME),
--   inbound_calls, answered, ended_in_ivr, missed, callback_requested.
WITH slots AS (
    SELECT
        make_time(7 + (30 + 15 * i) // 60, (30 + 15 * i) % 60, 0) AS slot_start,
        make_time(7 + (45 + 15 * i) // 60, (45 + 15 * i) % 60, 0) AS slot_end
    FROM range(12) AS t (i)
),
days AS (
    SELECT DISTINCT practice, local_date
    FROM calls
    WHERE inbound
),
early AS (
    SELECT
        practice,
        local_date,
        (started_at AT TIME ZONE 'Europe/London')::TIME AS local_time,
        outcome
    FROM calls
    WHERE inbound
        AND (started_at AT TIME ZONE 'Europe/London')::TIME >= TIME '07:30:00'
        AND (started_at AT TIME ZONE 'Europe/London')::TIME < TIME '10:30:00'
)
SELECT
    d.practice,
    d.local_date,
    isodow(d.local_date) AS weekday,
    s.slot_start,
    s.slot_end,
    count(e.outcome) AS inbound_calls,
    count(e.outcome) FILTER (WHERE e.outcome = 'answered') AS answered,
    count(e.outcome) FILTER (WHERE e.outcome = 'ended_in_ivr') AS ended_in_ivr,
    count(e.outcome) FILTER (WHERE e.outcome = 'missed') AS missed,
    count(e.outcome) FILTER (WHERE e.outcome = 'callback_requested') AS callback_requested
FROM days AS d
CROSS JOIN slots AS s
LEFT JOIN early AS e
    ON e.practice = d.practice
    AND e.local_date = d.local_date
    AND e.local_time >= s.slot_start
    AND e.local_time < s.slot_end
GROUP BY d.practice, d.local_date, s.slot_start, s.slot_end
