-- Statement record_alert: keep one alert notice (streams/worker/alerts.py).
-- Question: none (a write): appends the notice to alert_events.
-- Grain: one row per call of the statement.
-- Columns: as alert_events (migration 023), in its order.
INSERT INTO alert_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
