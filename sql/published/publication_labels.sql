-- The publication's labels, as streams/core/cbt_publication.py defines them (label_rows), for
--   the export's joins: temp table publication_labels.
-- Question: which published label does each of callstream's bands, buckets and core
--   categories become for each indicator, and in which order do they sort?
-- Grain: category (Time_Category, Duration, Wait_Time, Core_Category) x indicator x ours.
-- Parameters: $category, $indicator, $ours, $label (VARCHAR[], one entry per label), $rank
--   (INTEGER[]).
-- Columns: category, indicator, ours, label, rank.
CREATE OR REPLACE TEMP TABLE publication_labels AS
SELECT
    unnest($category) AS category,
    unnest($indicator) AS indicator,
    unnest($ours) AS ours,
    unnest($label) AS label,
    unnest($rank) AS rank
