-- What `callstream export cbt --compare` compared for a month: the published files loaded
--   and how many of our practices were set beside them.
-- Question: is there anything to compare, and from which files?
-- Grain: one row. Parameters: $month (first day).
-- Columns: files (sorted list of the source files loaded: a zip's name, or a CSV's),
--   practices (practices in cbt_reconciliation for the month).
SELECT
    (
        SELECT list_sort(list(DISTINCT split_part(source_file, '/', 1)))
        FROM nhs_cbt_published_files
        WHERE month = $month
    ) AS files,
    (SELECT count(DISTINCT practice) FROM cbt_reconciliation WHERE month = $month) AS practices
