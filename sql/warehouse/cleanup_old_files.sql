-- Upkeep: delete the Parquet files DuckLake scheduled for deletion (those only expired
-- snapshots used, and those compaction merged away) once they have been scheduled for the
-- retention. Not at once: a query that began before the compaction still reads them.
-- Parameter: $older_than_s (seconds).
CALL ducklake_cleanup_old_files('lake', older_than => now() - to_seconds($older_than_s))
