-- View practice_hierarchy: the practice dimension, from the latest NHS reference extracts.
-- Question: where does each practice sit (PCN, sub-ICB, ICB, region), and how many patients
--   does it serve, by the latest extract that mentions it?
-- Grain: one row per practice in any loaded extract; each source contributes the practice's
--   row from the latest extract_date that has it. The practice mapping wins over ODS epraccur
--   for names and codes; epraccur supplies status and dates. Nulls mean "not in any extract".
-- Columns: practice, practice_name, pcn_code, pcn_name, sub_icb_code, sub_icb_name, icb_code,
--   icb_name, region_code, region_name, list_size, status, open_date, close_date, role_code,
--   ods_extract_date, mapping_extract_date, list_size_extract_date.
WITH ods AS (
    SELECT * FROM ods_practices
    QUALIFY row_number() OVER (PARTITION BY practice ORDER BY extract_date DESC) = 1
),
mapping AS (
    SELECT * FROM practice_mappings
    QUALIFY row_number() OVER (PARTITION BY practice ORDER BY extract_date DESC) = 1
),
sizes AS (
    SELECT * FROM practice_list_sizes
    QUALIFY row_number() OVER (PARTITION BY practice ORDER BY extract_date DESC) = 1
),
known AS (
    SELECT practice FROM ods
    UNION
    SELECT practice FROM mapping
    UNION
    SELECT practice FROM sizes
)
SELECT
    k.practice,
    coalesce(m.practice_name, o.name) AS practice_name,
    m.pcn_code,
    m.pcn_name,
    coalesce(m.sub_icb_code, o.sub_icb_code) AS sub_icb_code,
    m.sub_icb_name,
    coalesce(m.icb_code, o.icb_code) AS icb_code,
    m.icb_name,
    coalesce(m.region_code, o.region_code) AS region_code,
    m.region_name,
    s.list_size,
    o.status,
    o.open_date,
    o.close_date,
    o.role_code,
    o.extract_date AS ods_extract_date,
    m.extract_date AS mapping_extract_date,
    s.extract_date AS list_size_extract_date
FROM known AS k
LEFT JOIN ods AS o ON o.practice = k.practice
LEFT JOIN mapping AS m ON m.practice = k.practice
LEFT JOIN sizes AS s ON s.practice = k.practice
