-- The (practice, local_date) keys a batch touches: its own, and the stored ones of calls it
-- replaces (a corrected start can move a call to another day, whose counts change too).
-- Input: `batch_calls`. Output: temp table touched_days (practice, local_date).
CREATE OR REPLACE TEMP TABLE touched_days AS
SELECT DISTINCT practice, local_date FROM batch_calls
UNION
SELECT t.practice, t.local_date
FROM classified_calls AS t
JOIN batch_calls AS s ON t.practice = s.practice AND t.call_id = s.call_id;
