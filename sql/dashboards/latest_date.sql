-- Query dashboards/latest_date: what "today" means for the dashboards by default.
-- Question: what is the latest local date with an inbound call (so a simulated week renders)?
-- Grain: one row. Parameters: none. Reads practice_day_facts (days with an inbound call).
-- Columns: latest (DATE, null when the warehouse has no inbound call).
SELECT max(local_date) AS latest
FROM practice_day_facts
