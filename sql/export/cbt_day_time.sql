-- NHS CBT file "By Day and Time": CBT001-CBT007 per practice, day and time band.
-- Question: how many inbound calls did each practice get in each time band of each day of
--   the month, and how did they end?
-- Grain: practice x local_date x indicator x time band, from cbt_daily (the writer's facts).
--   Written through sql/export/publication_rows.sql (as CTE `counts`).
-- Parameters: $month_start, $month_end (exclusive); temp table publication_labels
--   (sql/published/publication_labels.sql).
-- Columns: practice, local_date, indicator, Time_Category (the published label), value,
--   sort_1 (the band's place in NHS order), sort_2.
SELECT
    d.practice,
    d.local_date,
    d.indicator,
    l.label AS "Time_Category",
    d.value,
    l.rank AS sort_1,
    0 AS sort_2
FROM cbt_daily AS d
JOIN publication_labels AS l
    ON l.category = 'Time_Category' AND l.indicator = d.indicator AND l.ours = d.time_band
WHERE d.local_date >= $month_start AND d.local_date < $month_end
