-- Migration 002: the practice dimension (NHS ODS reference data).
-- Question: where does a practice sit in the NHS hierarchy, and how many patients does it serve?
-- Grain: one row per practice (ODS code); loaded by `callstream reference`, replaced as a whole.
-- Columns: practice (ODS code, joins calls.practice), name, pcn_code, sub_icb_code, icb_code,
--   region_code, list_size (registered patients; null when unknown), open_date, close_date,
--   loaded_at (when this row was loaded).
CREATE TABLE IF NOT EXISTS practices (
    practice     VARCHAR NOT NULL,
    name         VARCHAR,
    pcn_code     VARCHAR,
    sub_icb_code VARCHAR,
    icb_code     VARCHAR,
    region_code  VARCHAR,
    list_size    INTEGER,
    open_date    DATE,
    close_date   DATE,
    loaded_at    TIMESTAMPTZ NOT NULL
);
