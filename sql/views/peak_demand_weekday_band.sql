-- View peak_demand_weekday_band: when in the week the phones ring.
-- Question: on each weekday, how many inbound calls does a practice get per time band, on an
--   average day, and what share of that weekday's calls falls in each band?
-- Grain: practice x weekday x time_band, bands with at least one inbound call. days counts
--   the dates of that weekday on which the practice had any inbound call (days with no call
--   at all are not seen, so they do not lower the average).
-- Columns: practice, weekday (ISO: 1 = Monday ... 7 = Sunday), weekday_name, time_band,
--   inbound_calls, days, calls_per_day, share_of_weekday (of the weekday's inbound, 0-1).
WITH inbound AS (
    SELECT practice, local_date, isodow(local_date) AS weekday, time_band
    FROM calls
    WHERE inbound
),
days AS (
    SELECT practice, weekday, count(DISTINCT local_date) AS days
    FROM inbound
    GROUP BY practice, weekday
),
bands AS (
    SELECT practice, weekday, time_band, count(*) AS inbound_calls
    FROM inbound
    GROUP BY practice, weekday, time_band
)
SELECT
    b.practice,
    b.weekday,
    dayname(DATE '2024-01-01' + (b.weekday - 1)::INTEGER) AS weekday_name,
    b.time_band,
    b.inbound_calls,
    d.days,
    b.inbound_calls / d.days AS calls_per_day,
    b.inbound_calls / sum(b.inbound_calls) OVER (PARTITION BY b.practice, b.weekday)
        AS share_of_weekday
FROM bands AS b
JOIN days AS d ON d.practice = b.practice AND d.weekday = b.weekday
