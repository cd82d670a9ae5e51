-- Query reports/staffing_demand: a practice's average day, quarter hour by quarter hour.
-- Question: on an average one of the given days (e.g. the Mondays of the last 8 weeks, bank
--   holidays left out), how many calls wanted a person in each quarter hour, how long were
--   they talked to, how patient were callers, and how many people answered? The input of
--   the staffing model (streams/core/staffing.py, docs/staffing.md).
-- Grain: practice x slot_start (local quarter hour), quarter hours with a call offered to a
--   person or answered on any of the days (staffing_quarter_hours). Reads facts only
--   (staffing_slot_facts through that view, practice_day_facts for the days), never the calls.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]: the days to average over).
-- Columns: practice, slot_start (TIME), slot (label '08:00'), days (days of $dates on which
--   the practice had an inbound call: the divisor of every mean), offered, offered_first,
--   offered_repeat (calls per day), talk_s (mean talk of the answered calls, seconds; null
--   when none was talked to), band_talk_s (the same over the quarter hour's NHS time band:
--   more calls, a steadier figure for the model), day_talk_s (over the whole day), patience_s (mean seconds a caller waits before hanging up: the total wait of
--   offered calls over the calls given up, the estimate that counts a wait cut short by an
--   answer as "at least this long"; null when nobody gave up), observed (people answering,
--   per day; null when none of the practice's answered calls on the days says who answered).
WITH days AS (
    SELECT practice, count(*) AS days
    FROM practice_day_facts
    WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
    GROUP BY practice
),
slots AS (
    SELECT
        practice,
        slot_start,
        any_value(time_band) AS time_band,
        sum(offered) AS offered,
        sum(offered_first) AS offered_first,
        sum(offered_repeat) AS offered_repeat,
        sum(talked) AS talked,
        sum(talk_s) AS talk_s,
        sum(wait_s) AS wait_s,
        sum(gave_up) AS gave_up,
        sum(picked_up_by_known) AS picked_up_by_known,
        sum(people) AS people
    FROM staffing_quarter_hours
    WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
    GROUP BY practice, slot_start
),
bands AS (
    SELECT practice, time_band, sum(talk_s) / nullif(sum(talked), 0) AS band_talk_s
    FROM slots
    WHERE time_band IS NOT NULL
    GROUP BY practice, time_band
),
whole_day AS (
    SELECT
        practice,
        sum(talk_s) / nullif(sum(talked), 0) AS day_talk_s,
        sum(picked_up_by_known) AS picked_up_by_known
    FROM slots
    GROUP BY practice
)
SELECT
    s.practice,
    s.slot_start,
    strftime(DATE '2000-01-01' + s.slot_start, '%H:%M') AS slot,
    d.days,
    s.offered / d.days AS offered,
    s.offered_first / d.days AS offered_first,
    s.offered_repeat / d.days AS offered_repeat,
    s.talk_s / nullif(s.talked, 0) AS talk_s,
    b.band_talk_s,
    w.day_talk_s,
    s.wait_s / nullif(s.gave_up, 0) AS patience_s,
    CASE WHEN w.picked_up_by_known > 0 THEN s.people / d.days END AS observed
FROM slots AS s
JOIN days AS d ON d.practice = s.practice
JOIN whole_day AS w ON w.practice = s.practice
LEFT JOIN bands AS b ON b.practice = s.practice AND b.time_band = s.time_band
ORDER BY s.practice, s.slot_start
