-- Query dashboards/wait_buckets: how long callers waited for a person.
-- Question: how many calls were answered, and how many missed, after each NHS wait bucket?
-- Grain: wait_bucket (NHS England's CBT003/CBT004 buckets, in order), buckets with at least
--   one answered or missed inbound call of $practices on $dates, from cbt_bucket_facts
--   (CBT003 answered, CBT004 missed, by wait bucket).
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: wait_bucket, wait (label, e.g. '31-60 s'), answered, missed.
SELECT
    bucket AS wait_bucket,
    CASE
        WHEN bucket = '0' THEN 'no wait'
        WHEN bucket = '>300' THEN 'over 300 s'
        ELSE replace(bucket, '_', '-') || ' s'
    END AS wait,
    coalesce(sum(value) FILTER (WHERE indicator = 'CBT003'), 0)::BIGINT AS answered,
    coalesce(sum(value) FILTER (WHERE indicator = 'CBT004'), 0)::BIGINT AS missed
FROM cbt_bucket_facts
WHERE bucket_kind = 'wait'
    AND bucket IS NOT NULL
    AND practice IN (SELECT unnest($practices))
    AND local_date IN (SELECT unnest($dates))
GROUP BY bucket
ORDER BY list_position(
    ['0', '1_30', '31_60', '61_90', '91_120', '121_150', '151_180', '181_210', '211_240',
        '241_300', '>300'],
    bucket
)
