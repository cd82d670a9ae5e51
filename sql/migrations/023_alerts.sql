-- Migration 023: the alerts the workers raised (docs/operations.md, streams/core/alerts.py).
-- Question: which alert rules fired or recovered, for which practice, when, and was the
--   message delivered?
-- Grain: one row per notice: a rule starting to hold (kind 'firing') or, after its
--   cool-down, no longer holding (kind 'recovered'), for a practice or for a worker.
-- Columns: alert_id (unique), practice (ODS code; null for a worker's own rule, e.g. dead
--   letters), rule (its name), kind ('firing' | 'recovered'), condition (the rule's `when`),
--   value (the figure when it was evaluated; null when there was none), raised_at (UTC),
--   sent (every notification URL accepted the message), worker (host:pid of the worker).
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id  VARCHAR     NOT NULL,
    practice  VARCHAR,
    rule      VARCHAR     NOT NULL,
    kind      VARCHAR     NOT NULL,
    condition VARCHAR     NOT NULL,
    value     DOUBLE,
    raised_at TIMESTAMPTZ NOT NULL,
    sent      BOOLEAN     NOT NULL,
    worker    VARCHAR     NOT NULL
);
