-- View cbt_reconciliation: our stream-derived CBT figures beside NHS England's published ones.
-- Question: where do a practice's own phone data (the calls callstream classified) and the
--   figures its telephony supplier submitted to NHS England disagree, per month, indicator,
--   and time band or bucket?
-- Grain: month x practice x file_kind x indicator x category x core_category, for the months
--   and file kinds loaded with `callstream nhs load` (view nhs_cbt_published_files) and the
--   practices with calls in the warehouse that month (a published practice we hold no calls
--   for is not compared; nor is Unassigned, a phone account shared by several practices).
--   Rows where both figures are 0 are left out. A figure one side lacks counts as 0 (the
--   published files leave zero rows out).
-- Categories: day_time: the time band (Time_Category); durations: TOTAL, the wait bucket
--   (CBT003, CBT004) or the talk bucket (CBT007) as published (Duration); answered: the
--   wait bucket, with core_category. callstream's labels become the published ones through
--   nhs_cbt_labels (streams/core/cbt_publication.py, written by every load).
-- Columns: month (first day), practice, file_kind, indicator, category, core_category (answered
--   only, else null), ours, published, difference (ours - published).
WITH loaded AS (
    SELECT DISTINCT month, file_kind FROM nhs_cbt_published_files
),
months_ours AS (
    SELECT DISTINCT date_trunc('month', local_date)::DATE AS month, practice FROM cbt_daily
),
ours AS (
    SELECT
        date_trunc('month', d.local_date)::DATE AS month,
        d.practice,
        'day_time' AS file_kind,
        d.indicator,
        l.label AS category,
        NULL::VARCHAR AS core_category,
        sum(d.value) AS value
    FROM cbt_daily AS d
    JOIN nhs_cbt_labels AS l
        ON l.category = 'Time_Category' AND l.indicator = d.indicator AND l.ours = d.time_band
    GROUP BY ALL
    UNION ALL
    SELECT
        date_trunc('month', d.local_date)::DATE,
        d.practice,
        'durations',
        d.indicator,
        l.label,
        NULL,
        sum(d.value)
    FROM cbt_daily AS d
    JOIN nhs_cbt_labels AS l
        ON l.category = 'Duration' AND l.indicator = d.indicator AND l.ours = 'TOTAL'
    GROUP BY ALL
    UNION ALL
    SELECT
        date_trunc('month', b.local_date)::DATE,
        b.practice,
        'durations',
        b.indicator,
        l.label,
        NULL,
        sum(b.value)
    FROM cbt_bucket_facts AS b
    JOIN nhs_cbt_labels AS l
        ON l.category = 'Duration' AND l.indicator = b.indicator AND l.ours = b.bucket
    GROUP BY ALL
    UNION ALL
    SELECT
        date_trunc('month', b.local_date)::DATE,
        b.practice,
        'answered',
        b.indicator,
        w.label,
        k.label,
        sum(b.value)
    FROM cbt_bucket_facts AS b
    JOIN nhs_cbt_labels AS w
        ON w.category = 'Wait_Time' AND w.indicator = b.indicator AND w.ours = b.bucket
    JOIN nhs_cbt_labels AS k
        ON k.category = 'Core_Category'
        AND k.indicator = b.indicator
        AND k.ours = b.core_category
    GROUP BY ALL
),
published AS (
    SELECT
        month,
        practice,
        file_kind,
        indicator,
        coalesce(time_band, duration, wait_time) AS category,
        core_category,
        sum(value) AS value
    FROM nhs_cbt_published
    WHERE practice <> 'Unassigned'
    GROUP BY ALL
),
joined AS (
    SELECT
        coalesce(o.month, p.month) AS month,
        coalesce(o.practice, p.practice) AS practice,
        coalesce(o.file_kind, p.file_kind) AS file_kind,
        coalesce(o.indicator, p.indicator) AS indicator,
        coalesce(o.category, p.category) AS category,
        coalesce(o.core_category, p.core_category) AS core_category,
        coalesce(o.value, 0)::BIGINT AS ours,
        coalesce(p.value, 0)::BIGINT AS published
    FROM ours AS o
    FULL OUTER JOIN published AS p
        ON o.month = p.month
        AND o.practice = p.practice
        AND o.file_kind = p.file_kind
        AND o.indicator = p.indicator
        AND o.category = p.category
        AND o.core_category IS NOT DISTINCT FROM p.core_category
)
SELECT
    j.month,
    j.practice,
    j.file_kind,
    j.indicator,
    j.category,
    j.core_category,
    j.ours,
    j.published,
    j.ours - j.published AS difference
FROM joined AS j
SEMI JOIN loaded AS l ON l.month = j.month AND l.file_kind = j.file_kind
SEMI JOIN months_ours AS m ON m.month = j.month AND m.practice = j.practice
WHERE j.ours <> 0 OR j.published <> 0
