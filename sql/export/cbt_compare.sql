-- `callstream export cbt --compare`: the figures of a month that differ from NHS England's.
-- Question: which practices' stream-derived figures differ from the published ones by more
--   than $threshold calls, and where?
-- Grain: rows of view cbt_reconciliation for the month with |difference| > $threshold.
-- Parameters: $month (first day), $threshold (BIGINT).
-- Columns: practice, file (file kind), indicator, category, core_category, ours, published,
--   difference; in practice, file, indicator and NHS label order.
SELECT
    r.practice,
    r.file_kind AS file,
    r.indicator,
    r.category,
    r.core_category,
    r.ours,
    r.published,
    r.difference
FROM cbt_reconciliation AS r
LEFT JOIN nhs_cbt_labels AS l
    ON l.indicator = r.indicator
    AND l.label = r.category
    AND l.category = CASE r.file_kind
        WHEN 'day_time' THEN 'Time_Category'
        WHEN 'durations' THEN 'Duration'
        ELSE 'Wait_Time'
    END
LEFT JOIN nhs_cbt_labels AS k
    ON k.category = 'Core_Category' AND k.indicator = r.indicator AND k.label = r.core_category
WHERE r.month = $month AND abs(r.difference) > $threshold
ORDER BY r.practice, r.file_kind, r.indicator, l.rank, r.category, k.rank
