-- Upkeep: delete the Parquet files that only expired snapshots used.
CALL ducklake_cleanup_old_files('lake', cleanup_all => true)
