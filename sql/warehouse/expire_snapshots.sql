-- Upkeep: forget the snapshots expirable_snapshots.sql chose. Parameter: $versions (ids).
CALL ducklake_expire_snapshots('lake', versions => $versions)
