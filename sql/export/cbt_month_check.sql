-- What the export reconciles before it writes anything, per practice and day of the month.
-- Question: do the month's facts add up (CBT001 = CBT002+CBT003+CBT004+CBT005, CBT006 <=
--   CBT005, and each timed indicator's buckets total the indicator)?
-- Grain: practice x local_date with at least one inbound call in the month.
-- Parameters: $month_start, $month_end (exclusive), $unmapped.
-- Columns: practice, local_date, mapped (a reference extract gives the practice's region;
--   a practice only a list-size extract names has none), member (its region code, the CSV
--   its rows go in; $unmapped when none),
--   cbt001 ... cbt007, incomplete (inbound calls without call_ended yet), cbt003_by_wait,
--   cbt004_by_wait, cbt007_by_duration (the calls with a bucket: what the durations and
--   calls answered files hold), cbt003_time_unknown (answered calls whose answer the phone
--   system recorded without its time: no wait and no talk, so in neither of those files).
WITH daily AS (
    SELECT
        practice,
        local_date,
        sum(value) FILTER (WHERE indicator = 'CBT001') AS cbt001,
        sum(value) FILTER (WHERE indicator = 'CBT002') AS cbt002,
        sum(value) FILTER (WHERE indicator = 'CBT003') AS cbt003,
        sum(value) FILTER (WHERE indicator = 'CBT004') AS cbt004,
        sum(value) FILTER (WHERE indicator = 'CBT005') AS cbt005,
        sum(value) FILTER (WHERE indicator = 'CBT006') AS cbt006,
        sum(value) FILTER (WHERE indicator = 'CBT007') AS cbt007,
        sum(incomplete) FILTER (WHERE indicator = 'CBT001') AS incomplete
    FROM cbt_daily
    WHERE local_date >= $month_start AND local_date < $month_end
    GROUP BY practice, local_date
),
bucketed AS (
    SELECT
        practice,
        local_date,
        sum(value) FILTER (WHERE indicator = 'CBT003' AND bucket IS NOT NULL) AS cbt003_by_wait,
        sum(value) FILTER (WHERE indicator = 'CBT004' AND bucket IS NOT NULL) AS cbt004_by_wait,
        sum(value) FILTER (WHERE indicator = 'CBT007' AND bucket IS NOT NULL)
            AS cbt007_by_duration,
        sum(value) FILTER (WHERE indicator = 'CBT003' AND bucket IS NULL) AS cbt003_time_unknown
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start AND local_date < $month_end
    GROUP BY practice, local_date
)
SELECT
    d.practice,
    d.local_date,
    h.region_code IS NOT NULL AS mapped,
    coalesce(h.region_code, $unmapped) AS member,
    coalesce(d.cbt001, 0)::BIGINT AS cbt001,
    coalesce(d.cbt002, 0)::BIGINT AS cbt002,
    coalesce(d.cbt003, 0)::BIGINT AS cbt003,
    coalesce(d.cbt004, 0)::BIGINT AS cbt004,
    coalesce(d.cbt005, 0)::BIGINT AS cbt005,
    coalesce(d.cbt006, 0)::BIGINT AS cbt006,
    coalesce(d.cbt007, 0)::BIGINT AS cbt007,
    coalesce(d.incomplete, 0)::BIGINT AS incomplete,
    coalesce(b.cbt003_by_wait, 0)::BIGINT AS cbt003_by_wait,
    coalesce(b.cbt004_by_wait, 0)::BIGINT AS cbt004_by_wait,
    coalesce(b.cbt007_by_duration, 0)::BIGINT AS cbt007_by_duration,
    coalesce(b.cbt003_time_unknown, 0)::BIGINT AS cbt003_time_unknown
FROM daily AS d
LEFT JOIN bucketed AS b ON b.practice = d.practice AND b.local_date = d.local_date
LEFT JOIN practice_hierarchy AS h ON h.practice = d.practice
ORDER BY d.local_date, d.practice
