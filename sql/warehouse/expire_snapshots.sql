-- Upkeep: forget snapshots older than the retention. Parameter: $older_than_s (seconds).
CALL ducklake_expire_snapshots('lake', older_than => now() - to_seconds($older_than_s))
