-- Upkeep: keep the calls table in few, large Parquet files, as frequent small commits and
-- MERGE corrections leave many small files, rows inlined in the catalog, and delete files.
-- 1. write rows DuckLake inlined into the catalog (small commits) out to Parquet;
CALL ducklake_flush_inlined_data('lake');
-- 2. rewrite files that carry deletions (corrected calls) without the deleted rows;
CALL ducklake_rewrite_data_files('lake');
-- 3. merge adjacent small files into larger ones.
CALL ducklake_merge_adjacent_files('lake');
