-- Query dashboards/wait_buckets: how long callers waited for a person.
-- Question: how many calls were answered, and how many missed, after each NHS wait bucket?
-- Grain: wait_bucket (NHS England's CBT003/CBT004 buckets, in order), buckets with at least
--   one answered or missed inbound call of $practices on $dates. Waits as in calls.wait_s.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: wait_bucket, wait (label, e.g. '31-60 s'), answered, missed.
SELECT
    wait_bucket,
    CASE
        WHEN wait_bucket = '0' THEN 'no wait'
        WHEN wait_bucket = '>300' THEN 'over 300 s'
        ELSE replace(wait_bucket, '_', '-') || ' s'
    END AS wait,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'missed') AS missed
FROM calls
WHERE inbound
    AND outcome IN ('answered', 'missed')
    AND wait_bucket IS NOT NULL
    AND list_contains($practices, practice)
    AND list_contains($dates, local_date)
GROUP BY wait_bucket
ORDER BY list_position(
    ['0', '1_30', '31_60', '61_90', '91_120', '121_150', '151_180', '181_210', '211_240',
        '241_300', '>300'],
    wait_bucket
)
