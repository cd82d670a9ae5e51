-- Migration 025: the practice-days whose facts a commit under load left to a later one.
-- Question: which (practice, local_date) keys have calls newer than their facts?
-- Grain: one row per key per commit that deferred it (a key may appear more than once).
-- Why: under sustained load (calls already waiting for the next commit) the writer commits
--   the calls and records the keys here, and recomputes the facts of every key held here at
--   most every CALLSTREAM_FACTS_EVERY_S (streams/worker/writer.py), in the transaction that
--   empties the table. Durable, so keys deferred before a crash are recomputed after it.
--   Empty whenever the load lets every commit recompute its own keys.
-- Columns: practice (ODS code), local_date (England), deferred_at (UTC, the commit's time).
CREATE TABLE IF NOT EXISTS fact_backlog (
    practice    VARCHAR     NOT NULL,
    local_date  DATE        NOT NULL,
    deferred_at TIMESTAMPTZ NOT NULL
);
