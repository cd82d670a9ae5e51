-- Bookkeeping: which sql/migrations files this warehouse has applied, and when.
-- Grain: one row per applied migration. Columns: version, name (file stem), applied_at (UTC).
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER     NOT NULL,
    name       VARCHAR     NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
