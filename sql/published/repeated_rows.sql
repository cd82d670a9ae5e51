-- Before a load: the first figure the files being loaded hold twice, if any.
-- Question: does a row repeat another (same geography, day, indicator and category)?
--   Unassigned rows are left out: a PCN may hold several shared phone accounts, each its row.
-- Grain: one row, or none: the repeated figure's first and second line (file, line), its
--   practice, day and indicator.
-- Input: view published_rows (the parsed rows: streams/core/cbt_publication.py ROW_COLUMNS,
--   then member and source_file).
WITH repeated AS (
    SELECT
        local_date, region_code, icb_code, sub_icb_code, pcn_code, practice, indicator,
        time_band, duration, wait_time, core_category
    FROM published_rows
    WHERE practice <> 'Unassigned'
    GROUP BY ALL
    HAVING count(*) > 1
    LIMIT 1
),

lines AS (
    SELECT
        r.practice,
        r.local_date,
        r.indicator,
        p.source_file || ', line ' || p.source_line AS place,
        row_number() OVER (ORDER BY p.source_file, p.source_line) AS n
    FROM published_rows AS p
    INNER JOIN repeated AS r
        ON p.local_date = r.local_date
        AND p.region_code = r.region_code
        AND p.icb_code = r.icb_code
        AND p.sub_icb_code = r.sub_icb_code
        AND p.pcn_code = r.pcn_code
        AND p.practice = r.practice
        AND p.indicator = r.indicator
        AND p.time_band IS NOT DISTINCT FROM r.time_band
        AND p.duration IS NOT DISTINCT FROM r.duration
        AND p.wait_time IS NOT DISTINCT FROM r.wait_time
        AND p.core_category IS NOT DISTINCT FROM r.core_category
)

SELECT
    max(place) FILTER (WHERE n = 1) AS first_place,
    max(place) FILTER (WHERE n = 2) AS second_place,
    any_value(practice) AS practice,
    any_value(local_date) AS local_date,
    any_value(indicator) AS indicator
FROM lines
HAVING count(*) > 1
