-- The rows of one NHS CBT publication file, as published: the counts of its file kind (CTE
--   `counts`, from sql/export/cbt_day_time.sql, cbt_durations.sql or cbt_answered.sql) with
--   the Date, the geography and the Value written as the publication writes them.
-- Question: what does each row of the file say, and which region's CSV does it go in?
-- Grain: that of `counts` (practice x local_date x indicator x its category columns); rows
--   whose value is 0 only when $zero_rows.
-- Parameters: $date_format, $value_format, $zero_rows, $unmapped (the code of geography no
--   reference extract gives), and those of the counts' file.
-- Columns: Date, REGION_CODE, ICB_CODE, SUB_ICB_LOCATION_CODE, PCN_CODE, PRACTICE_CODE,
--   Indicator, the counts' category columns (Time_Category, Duration, Wait_Time,
--   Core_Category), Value (text), then member (the region CSV the row belongs in), value_n
--   (Value as a number), sort_date, sort_1, sort_2.
SELECT
    strftime(c.local_date, $date_format) AS "Date",
    coalesce(h.region_code, $unmapped) AS "REGION_CODE",
    coalesce(h.icb_code, $unmapped) AS "ICB_CODE",
    coalesce(h.sub_icb_code, $unmapped) AS "SUB_ICB_LOCATION_CODE",
    coalesce(h.pcn_code, $unmapped) AS "PCN_CODE",
    c.practice AS "PRACTICE_CODE",
    c.indicator AS "Indicator",
    c.* EXCLUDE (practice, local_date, indicator, value, sort_1, sort_2),
    printf($value_format, c.value::DOUBLE) AS "Value",
    coalesce(h.region_code, $unmapped) AS member,
    c.value AS value_n,
    c.local_date AS sort_date,
    c.sort_1,
    c.sort_2
FROM counts AS c
LEFT JOIN practice_hierarchy AS h ON h.practice = c.practice
WHERE c.value > 0 OR $zero_rows
