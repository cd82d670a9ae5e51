-- View reference_extracts: which NHS reference extracts are loaded, and which is in use.
-- Question: which epraccur / practice mapping / list size extract do the figures rest on?
-- Grain: one row per (kind, extract_date). `latest` marks the newest extract of each kind
--   (practice_hierarchy takes each practice's row from the newest extract that has it).
-- Columns: kind (epraccur | mapping | list_size), extract_date, practices, source_files
--   (file names loaded for it), loaded_at (last load, UTC), latest.
WITH extracts AS (
    SELECT 'epraccur' AS kind, extract_date, practice, source_file, loaded_at
    FROM ods_practices
    UNION ALL
    SELECT 'mapping', extract_date, practice, source_file, loaded_at
    FROM practice_mappings
    UNION ALL
    SELECT 'list_size', extract_date, practice, source_file, loaded_at
    FROM practice_list_sizes
)
SELECT
    kind,
    extract_date,
    count(DISTINCT practice) AS practices,
    string_agg(DISTINCT source_file, ', ' ORDER BY source_file) AS source_files,
    max(loaded_at) AS loaded_at,
    extract_date = max(extract_date) OVER (PARTITION BY kind) AS latest
FROM extracts
GROUP BY kind, extract_date
