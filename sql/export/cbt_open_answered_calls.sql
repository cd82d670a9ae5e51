-- Answered inbound calls of the month with no talk duration yet (not ended): why CBT007
--   can fall short of CBT003. Parameters: $month_start, $month_end (exclusive).
-- Columns: practice, call_id, local_date, complete.
SELECT practice, call_id, local_date, complete
FROM calls
WHERE inbound
    AND outcome = 'answered'
    AND duration_bucket IS NULL
    AND local_date >= $month_start
    AND local_date < $month_end
ORDER BY practice, local_date, call_id
