-- Before a load: drop the published rows the files being loaded replace.
-- Question: which earlier loads does this one supersede?
-- Grain: rows of one month and file kind; all of them when $whole (a zip, or a CSV holding
--   every region), else those of the members loaded ($members) and any whole-month CSV
--   (member ALL) loaded before, so a region is never counted twice.
-- Parameters: $month (DATE), $kind (VARCHAR), $members (VARCHAR[]), $whole (BOOLEAN).
DELETE FROM nhs_cbt_published
WHERE month = $month
    AND file_kind = $kind
    AND ($whole OR list_contains($members, member) OR member = 'ALL')
