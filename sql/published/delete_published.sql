-- Before a load: drop the published rows the files being loaded replace.
-- Question: which earlier loads does this one supersede?
-- Grain: rows of one month and file kind; all of them when $whole (a zip: it holds every
--   region), else those of the regions the CSV has rows for ($regions, by REGION_CODE), so
--   a region is never counted twice and a CSV never removes a region it does not hold.
-- Parameters: $month (DATE), $kind (VARCHAR), $regions (VARCHAR[]), $whole (BOOLEAN).
DELETE FROM nhs_cbt_published
WHERE month = $month
    AND file_kind = $kind
    AND ($whole OR list_contains($regions, region_code))
