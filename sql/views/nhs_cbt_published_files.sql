-- View nhs_cbt_published_files: the NHS England CBT files loaded with `callstream nhs load`.
-- Question: which months and files of NHS England's CBT publication does the warehouse hold,
--   from which source, and when were they loaded?
-- Grain: month x file_kind x member (one published CSV: a region's, or ALL for a file holding
--   every region).
-- Columns: month (first day), file_kind (day_time, durations, answered), member, source_file,
--   rows, value_total (the sum of Value), practices (distinct PRACTICE_CODE, Unassigned
--   included), loaded_at.
SELECT
    month,
    file_kind,
    member,
    min(source_file) AS source_file,
    count(*) AS rows,
    sum(value)::BIGINT AS value_total,
    count(DISTINCT practice) AS practices,
    max(loaded_at) AS loaded_at
FROM nhs_cbt_published
GROUP BY month, file_kind, member
