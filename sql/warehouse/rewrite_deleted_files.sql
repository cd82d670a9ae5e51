-- Upkeep between full rounds (Warehouse.compact_small): rewrite the data files of which a
-- tenth or more of the rows are deleted. The writer's MERGE replaces a call each time more
-- of its events arrive, so the files of the last minutes soon carry delete files, and
-- DuckLake will not merge a file that has them (sql/warehouse/merge_small_files.sql).
-- A tenth: the recent files are mostly deleted by then; a large file with a few late
-- corrections is left to the full round (sql/warehouse/compact.sql).
CALL ducklake_rewrite_data_files('lake', delete_threshold => 0.1);
