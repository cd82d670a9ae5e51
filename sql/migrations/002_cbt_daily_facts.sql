-- Migration 002: cbt_daily materialised, and the bookkeeping that keeps it true.
-- Question: NHS England's CBT001-CBT007 per practice, day and time band, without scanning
--   every call on each read (national volume: ~30 million calls a month).
-- Grain: cbt_daily_facts: practice x local_date x time_band x indicator, the rows of the
--   `cbt_daily` view. The writer recomputes (never increments) every (practice, local_date)
--   a batch touched, in the same transaction as the batch (sql/warehouse/refresh_cbt_daily.sql).
--   aggregate_versions: one row per materialised aggregate with the hash of the SQL that
--   computed it; a writable open rebuilds the aggregate when that SQL has changed.
-- Columns: cbt_daily_facts: practice, local_date, time_band, indicator, value, incomplete.
--   aggregate_versions: name, sql_hash (sha256 of the refresh file), rebuilt_at (UTC).
CREATE TABLE IF NOT EXISTS cbt_daily_facts (
    practice   VARCHAR NOT NULL,
    local_date DATE    NOT NULL,
    time_band  VARCHAR NOT NULL,
    indicator  VARCHAR NOT NULL,
    value      BIGINT  NOT NULL,
    incomplete BIGINT  NOT NULL
);
CREATE TABLE IF NOT EXISTS aggregate_versions (
    name       VARCHAR     NOT NULL,
    sql_hash   VARCHAR     NOT NULL,
    rebuilt_at TIMESTAMPTZ NOT NULL
);
