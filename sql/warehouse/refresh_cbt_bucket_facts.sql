-- Recompute cbt_bucket_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls. Recomputed, never incremented, so a
-- replay or a correction leaves exactly what a full recount would.
-- Which calls count for which indicator, and by which bucket, is defined once, in view
--   cbt_call_indicators (bucket_kind, bucket); only combinations with a call get a row.
DELETE FROM cbt_bucket_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO cbt_bucket_facts (
    practice, local_date, time_band, core_category, indicator, bucket_kind, bucket, value,
    incomplete
)
SELECT
    i.practice,
    i.local_date,
    i.time_band,
    i.core_category,
    i.indicator,
    i.bucket_kind,
    i.bucket,
    count(*) AS value,
    count(*) FILTER (WHERE NOT i.complete) AS incomplete
FROM cbt_call_indicators AS i
JOIN touched_days AS k ON i.practice = k.practice AND i.local_date = k.local_date
WHERE i.counts AND i.bucket_kind IS NOT NULL
GROUP BY ALL;
