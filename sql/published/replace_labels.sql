-- nhs_cbt_labels := the publication's labels of this version of callstream (temp table
--   publication_labels, sql/published/publication_labels.sql).
DELETE FROM nhs_cbt_labels;
INSERT INTO nhs_cbt_labels (category, indicator, ours, label, rank)
SELECT category, indicator, ours, label, rank FROM publication_labels;
