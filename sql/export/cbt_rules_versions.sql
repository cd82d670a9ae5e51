-- The practice rules versions that classified the month's inbound calls (for the manifest).
-- Question: which routing rules do the exported figures rest on?
-- Grain: one row. Parameters: $month_start, $month_end (exclusive).
-- Columns: rules_versions (sorted list).
SELECT list_sort(list(DISTINCT rules_version)) AS rules_versions
FROM calls
WHERE inbound AND local_date >= $month_start AND local_date < $month_end
