-- The alert incidents still open: a rule's latest notice for its subject says it fired and
-- no recovery has followed (streams/worker/alerts.py reloads them when a worker starts).
-- Question: which rules are firing now, for which practice (or worker), as recorded?
-- Grain: one row per (practice, rule) whose latest notice in alert_events is 'firing'.
-- Columns: practice (null: a worker's own rule), rule, worker (host:pid that raised it),
--   raised_at (UTC).
SELECT practice, rule, worker, raised_at
FROM alert_events
QUALIFY row_number() OVER (PARTITION BY practice, rule ORDER BY raised_at DESC) = 1
    AND kind = 'firing'
ORDER BY raised_at
