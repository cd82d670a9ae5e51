-- Migration 010: the practice dimension's sources, versioned by NHS extract date.
-- Question: which NHS reference extracts have been loaded, and what did each say per practice?
-- Grain: one row per (extract_date, practice) in each table; `callstream reference load`
--   replaces the rows of an extract it loads again, so a reload is harmless. Views use the
--   latest extract of each kind (sql/views/practice_hierarchy.sql); older ones stay for audit.
-- Tables and columns:
--   ods_practices (NHS ODS epraccur): extract_date, practice, name, region_code (NHS England
--     region), icb_code, sub_icb_code (commissioner), postcode, open_date, close_date, status,
--     role_code (RO76 = GP practice), source_file, loaded_at.
--   practice_mappings (NHS England "Patients registered at a GP practice", practice mapping):
--     extract_date, practice, practice_name, pcn_code, pcn_name, sub_icb_code, sub_icb_name,
--     icb_code, icb_name, region_code, region_name, source_file, loaded_at.
--   practice_list_sizes (same publication, all patients): extract_date, practice, list_size,
--     source_file, loaded_at.
CREATE TABLE IF NOT EXISTS ods_practices (
    extract_date DATE        NOT NULL,
    practice     VARCHAR     NOT NULL,
    name         VARCHAR,
    region_code  VARCHAR,
    icb_code     VARCHAR,
    sub_icb_code VARCHAR,
    postcode     VARCHAR,
    open_date    DATE,
    close_date   DATE,
    status       VARCHAR,
    role_code    VARCHAR,
    source_file  VARCHAR     NOT NULL,
    loaded_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS practice_mappings (
    extract_date  DATE        NOT NULL,
    practice      VARCHAR     NOT NULL,
    practice_name VARCHAR,
    pcn_code      VARCHAR,
    pcn_name      VARCHAR,
    sub_icb_code  VARCHAR,
    sub_icb_name  VARCHAR,
    icb_code      VARCHAR,
    icb_name      VARCHAR,
    region_code   VARCHAR,
    region_name   VARCHAR,
    source_file   VARCHAR     NOT NULL,
    loaded_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS practice_list_sizes (
    extract_date DATE        NOT NULL,
    practice     VARCHAR     NOT NULL,
    list_size    INTEGER     NOT NULL,
    source_file  VARCHAR     NOT NULL,
    loaded_at    TIMESTAMPTZ NOT NULL
);
