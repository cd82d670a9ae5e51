-- Upkeep between full rounds (Warehouse.compact_small): merge the data files under
-- $max_file_size bytes (settings compact_small_file_bytes), in each table and partition.
-- Each commit writes a file per table it changes; at the national peak that is a file every
-- second, and every MERGE reads all of today's (the join cannot prune by call id). Files at
-- or over the size are left alone, so a round costs about the files of the last rounds.
CALL ducklake_merge_adjacent_files('lake', max_file_size => $max_file_size);
