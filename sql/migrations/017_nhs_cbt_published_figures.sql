-- Migration 017: NHS England's published figures per practice and month, and the medians of
--   PCNs, ICBs and England, materialised by `callstream nhs load` (until now views that
--   re-aggregated every published row on each dashboard page).
-- Question: what did NHS England publish for each practice in a month, and what is a typical
--   practice's answered, IVR, missed and callback share in its PCN, its ICB and England?
-- Grain: cbt_published_practice_month: month x practice in the published by day and time or
--   durations file (the day and time file's figure when both are loaded; Unassigned, shared
--   phone accounts, left out). cbt_published_benchmarks: month x level (pcn, icb, england) x
--   org_code (the publication's own PCN_CODE, ICB_CODE; 'ENGLAND'), over the practices with
--   an inbound call; codes 'Unmapped' form no PCN or ICB. Both recomputed for the month a
--   load touches, in its transaction (sql/published/refresh_published_month.sql).
-- Columns: cbt_published_practice_month: month (first day), practice, pcn_code, icb_code,
--   region_code (the publication's geography, most frequent in the month), inbound (CBT001),
--   ended_in_ivr (CBT002), answered (CBT003), missed (CBT004), callback_requested (CBT005),
--   callbacks_made (CBT006), answered_share, ivr_share, missed_share,
--   callback_requested_share (of inbound, 0-1; null when inbound is 0).
--   cbt_published_benchmarks: month, level, org_code, practices, answered_share, ivr_share,
--   missed_share, callback_requested_share (medians across the practices, 0-1; continuous).
DROP VIEW IF EXISTS cbt_published_benchmarks;
DROP VIEW IF EXISTS cbt_published_practice_month;
CREATE TABLE IF NOT EXISTS cbt_published_practice_month (
    month                    DATE    NOT NULL,
    practice                 VARCHAR NOT NULL,
    pcn_code                 VARCHAR,
    icb_code                 VARCHAR,
    region_code              VARCHAR,
    inbound                  BIGINT  NOT NULL,
    ended_in_ivr             BIGINT  NOT NULL,
    answered                 BIGINT  NOT NULL,
    missed                   BIGINT  NOT NULL,
    callback_requested       BIGINT  NOT NULL,
    callbacks_made           BIGINT  NOT NULL,
    answered_share           DOUBLE,
    ivr_share                DOUBLE,
    missed_share             DOUBLE,
    callback_requested_share DOUBLE
);
CREATE TABLE IF NOT EXISTS cbt_published_benchmarks (
    month                    DATE    NOT NULL,
    level                    VARCHAR NOT NULL,
    org_code                 VARCHAR NOT NULL,
    practices                BIGINT  NOT NULL,
    answered_share           DOUBLE,
    ivr_share                DOUBLE,
    missed_share             DOUBLE,
    callback_requested_share DOUBLE
);
