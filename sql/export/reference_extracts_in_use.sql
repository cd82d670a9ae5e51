-- The reference extracts an export's hierarchy codes come from (newest of each kind).
-- Columns: kind, extract_date, files (source file names).
SELECT kind, extract_date, source_files AS files
FROM reference_extracts
WHERE latest
ORDER BY kind
