-- Migration 015: cbt_bucket_facts, CBT003/CBT004 by wait bucket and CBT007 by talk bucket,
--   materialised like cbt_daily_facts.
-- Question: how many of a practice-day's calls counted for CBT003 and CBT004 in each wait
--   bucket, and for CBT007 in each talk duration bucket, per time band and core category,
--   without scanning the calls (NHS England's durations and calls answered files, wait panels)?
-- Grain: practice x local_date x time_band x core_category x indicator x bucket_kind x bucket,
--   combinations with at least one call. The writer recomputes (never increments) every
--   (practice, local_date) a batch touched, in the batch's own transaction
--   (sql/warehouse/refresh_cbt_bucket_facts.sql), from view cbt_call_indicators.
-- Columns: practice, local_date, time_band, core_category, indicator (CBT003, CBT004, CBT007),
--   bucket_kind ('wait' or 'duration'), bucket (the call's wait_bucket or duration_bucket;
--   null for calls that have none yet: an answered call not ended, a missed call with no
--   end), value (calls), incomplete (how many of value have no call_ended yet).
CREATE TABLE IF NOT EXISTS cbt_bucket_facts (
    practice      VARCHAR NOT NULL,
    local_date    DATE    NOT NULL,
    time_band     VARCHAR NOT NULL,
    core_category VARCHAR NOT NULL,
    indicator     VARCHAR NOT NULL,
    bucket_kind   VARCHAR NOT NULL,
    bucket        VARCHAR,
    value         BIGINT  NOT NULL,
    incomplete    BIGINT  NOT NULL
);
