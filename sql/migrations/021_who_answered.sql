-- Migration 021: who answered each call, and when (docs/staffing.md).
-- Question: how many distinct people answered calls in each quarter hour (observed staffing)?
-- Grain: classified_calls stays one row per call; two ClassifiedCall fields are added.
-- Columns: first_agent (extension or agent id on the first answered event, when the phone
--   system gives one; never a phone number), answered_at (UTC time of the first answered
--   event; null when not answered). Rows written before this migration keep nulls until a
--   replay rewrites them.
ALTER TABLE classified_calls ADD COLUMN IF NOT EXISTS
    first_agent VARCHAR;
ALTER TABLE classified_calls ADD COLUMN IF NOT EXISTS
    answered_at TIMESTAMPTZ;
