-- View alerts: the alerts raised about each practice's phones (and the workers), newest first.
-- Question: when did a practice's queue, missed share or feed go wrong, and when did it recover?
-- Grain: one row per notice (alert_events): a rule firing, or recovering after its cool-down.
-- Columns: practice (null: a worker's own rule), rule, kind ('firing' | 'recovered'),
--   condition, value, raised_at (UTC), local_date and local_time (Europe/London), sent
--   (the message was delivered), worker.
SELECT
    practice,
    rule,
    kind,
    condition,
    value,
    raised_at,
    CAST(timezone('Europe/London', raised_at) AS DATE) AS local_date,
    strftime(timezone('Europe/London', raised_at), '%H:%M') AS local_time,
    sent,
    worker
FROM alert_events
ORDER BY raised_at DESC
