-- Migration 001: the fact table of classified calls.
-- Question: what happened to each call, by NHS England's CBT definitions (docs/classification.md)?
-- Grain: one row per call, unique by (practice, call_id); MERGEd by the warehouse writer, so a
--   replay changes nothing and a late event (callback_made, call_ended) replaces the row.
-- Columns: the ClassifiedCall fields in models/classified.py order, then ingested_at (first
--   time the warehouse saw the call) and updated_at (last time the row changed). All times UTC.
-- DuckLake has no primary keys: uniqueness is kept by the MERGE (sql/warehouse/merge_calls.sql).
CREATE TABLE IF NOT EXISTS classified_calls (
    practice          VARCHAR     NOT NULL,
    call_id           VARCHAR     NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    local_date        DATE        NOT NULL,
    time_band         VARCHAR     NOT NULL,
    core_category     VARCHAR     NOT NULL,
    inbound           BOOLEAN     NOT NULL,
    outcome           VARCHAR,
    wait_s            INTEGER,
    wait_bucket       VARCHAR,
    talk_s            INTEGER,
    duration_bucket   VARCHAR,
    callback_made     BOOLEAN     NOT NULL,
    request_type      VARCHAR,
    first_team        VARCHAR,
    transfers         INTEGER     NOT NULL,
    routing           VARCHAR     NOT NULL,
    caller_key        VARCHAR,
    complete          BOOLEAN     NOT NULL,
    rules_version     VARCHAR     NOT NULL,
    ended_at          TIMESTAMPTZ,
    callback_answered BOOLEAN,
    callback_wait_s   INTEGER,
    divert_target     VARCHAR,
    events            INTEGER     NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
