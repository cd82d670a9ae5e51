-- NHS CBT file "By Day and Time": CBT001-CBT007 per practice, day and time band.
-- Question: how many inbound calls did each practice get in each time band of each day of
--   the month, and how did they end (NHS England's publication layout)?
-- Grain: local_date x practice x indicator x time band, from cbt_daily (the writer's facts);
--   rows whose value is 0 only when $zero_rows.
-- Parameters: $month_start, $month_end (exclusive), $date_format, $value_format, $zero_rows,
--   $unmapped (the code of geography no reference extract gives); temp table
--   publication_labels (sql/published/publication_labels.sql).
-- Columns: the published header (Date, REGION_CODE, ICB_CODE, SUB_ICB_LOCATION_CODE,
--   PCN_CODE, PRACTICE_CODE, Indicator, Time_Category, Value as text), then member (the
--   region CSV the row belongs in), value_n (Value as a number), sort_date, sort_1, sort_2.
SELECT
    strftime(d.local_date, $date_format) AS "Date",
    coalesce(h.region_code, $unmapped) AS "REGION_CODE",
    coalesce(h.icb_code, $unmapped) AS "ICB_CODE",
    coalesce(h.sub_icb_code, $unmapped) AS "SUB_ICB_LOCATION_CODE",
    coalesce(h.pcn_code, $unmapped) AS "PCN_CODE",
    d.practice AS "PRACTICE_CODE",
    d.indicator AS "Indicator",
    l.label AS "Time_Category",
    printf($value_format, d.value::DOUBLE) AS "Value",
    coalesce(h.region_code, $unmapped) AS member,
    d.value AS value_n,
    d.local_date AS sort_date,
    l.rank AS sort_1,
    0 AS sort_2
FROM cbt_daily AS d
JOIN publication_labels AS l
    ON l.category = 'Time_Category' AND l.indicator = d.indicator AND l.ours = d.time_band
LEFT JOIN practice_hierarchy AS h ON h.practice = d.practice
WHERE d.local_date >= $month_start
    AND d.local_date < $month_end
    AND (d.value > 0 OR $zero_rows)
