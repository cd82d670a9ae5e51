-- Migration 016: NHS England's published CBT files, loaded by `callstream nhs load`.
-- Question: what did NHS England publish for each practice, day and indicator (to reconcile
--   our stream-derived figures with, and to benchmark a practice against its PCN, ICB and
--   England)?
-- Grain: nhs_cbt_published: one row per published CSV row (month x file_kind x member x line).
--   nhs_cbt_labels: the publication's labels (streams/core/cbt_publication.py label_rows),
--   category x indicator x ours, rewritten by every load so view cbt_reconciliation can put
--   callstream's bands and buckets beside the published ones.
-- Loading a file again replaces its rows (same month and file kind; a zip every region, a
--   CSV the regions it has rows for, by region_code).
-- Columns: nhs_cbt_published: month (first day), file_kind (day_time, durations, answered),
--   member (region code of the CSV, or ALL), local_date, region_code, icb_code, sub_icb_code,
--   pcn_code, practice (ODS code, or Unassigned: a phone account shared by several
--   practices), indicator, time_band, duration, wait_time, core_category (each null where the
--   file has no such column), value, source_file (zip/member or file name), source_line,
--   loaded_at. nhs_cbt_labels: category, indicator, ours, label, rank.
CREATE TABLE IF NOT EXISTS nhs_cbt_published (
    month         DATE    NOT NULL,
    file_kind     VARCHAR NOT NULL,
    member        VARCHAR NOT NULL,
    local_date    DATE    NOT NULL,
    region_code   VARCHAR NOT NULL,
    icb_code      VARCHAR NOT NULL,
    sub_icb_code  VARCHAR NOT NULL,
    pcn_code      VARCHAR NOT NULL,
    practice      VARCHAR NOT NULL,
    indicator     VARCHAR NOT NULL,
    time_band     VARCHAR,
    duration      VARCHAR,
    wait_time     VARCHAR,
    core_category VARCHAR,
    value         BIGINT  NOT NULL,
    source_file   VARCHAR NOT NULL,
    source_line   INTEGER NOT NULL,
    loaded_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS nhs_cbt_labels (
    category  VARCHAR NOT NULL,
    indicator VARCHAR NOT NULL,
    ours      VARCHAR NOT NULL,
    label     VARCHAR NOT NULL,
    rank      INTEGER NOT NULL
);
