-- View cbt_daily: NHS England's CBT001-CBT007 per practice, day and time band.
-- Question: how many inbound calls did each practice get, and how did they end, per time band?
-- Grain: practice x local_date x time_band x indicator; for every band with at least one
--   inbound call all seven indicators are present (value 0 included); bands with no inbound
--   call have no rows. Outbound calls never count.
-- Indicators (docs/classification.md): CBT001 inbound calls; CBT002 ended in the IVR;
--   CBT003 answered; CBT004 missed (voicemail included); CBT005 callback requested;
--   CBT006 callbacks made for CBT005 calls; CBT007 answered calls by talk duration (the
--   count equals CBT003; answered calls not yet ended have no duration bucket yet).
-- Incomplete calls (no call_ended yet, complete = false) count with the outcome their events
--   so far support; `incomplete` says how many of `value` they are, so a day still open can
--   be told from a final one.
-- Materialised: read from cbt_daily_facts, which the writer recomputes for every practice
--   and day a batch touches, in the batch's own transaction (sql/warehouse/refresh_cbt_daily.sql),
--   so it always agrees with `calls` at the same snapshot.
-- Columns: practice, local_date, time_band, indicator, value, incomplete.
SELECT practice, local_date, time_band, indicator, value, incomplete
FROM cbt_daily_facts
