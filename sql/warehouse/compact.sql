-- Upkeep: merge the small Parquet files that frequent commits leave into larger ones.
CALL ducklake_merge_adjacent_files('lake')
