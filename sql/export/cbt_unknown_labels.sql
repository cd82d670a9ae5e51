-- Band, bucket and core category labels of the month's facts that the publication does not
--   have for their indicator (the export refuses them rather than drop their rows).
-- Question: which labels would the NHS files not recognise?
-- Grain: category x indicator x label found, with how many calls carry it.
-- Parameters: $month_start, $month_end (exclusive); temp table publication_labels.
-- Columns: category, indicator, label, calls.
WITH used AS (
    SELECT 'Time_Category' AS category, indicator, time_band AS label, sum(value) AS calls
    FROM cbt_daily
    WHERE local_date >= $month_start AND local_date < $month_end
    GROUP BY ALL
    UNION ALL
    SELECT 'Duration', indicator, bucket, sum(value)
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start AND local_date < $month_end AND bucket IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT 'Wait_Time', indicator, bucket, sum(value)
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start
        AND local_date < $month_end
        AND bucket IS NOT NULL
        AND indicator IN (SELECT indicator FROM publication_labels WHERE category = 'Wait_Time')
    GROUP BY ALL
    UNION ALL
    SELECT 'Core_Category', indicator, core_category, sum(value)
    FROM cbt_bucket_facts
    WHERE local_date >= $month_start
        AND local_date < $month_end
        AND indicator IN (SELECT indicator FROM publication_labels WHERE category = 'Core_Category')
    GROUP BY ALL
)
SELECT u.category, u.indicator, u.label, u.calls::BIGINT AS calls
FROM used AS u
ANTI JOIN publication_labels AS l
    ON l.category = u.category AND l.indicator = u.indicator AND l.ours = u.label
ORDER BY ALL
