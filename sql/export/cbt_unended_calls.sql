-- Inbound calls of the month that have not ended: answered ones with no talk duration yet
--   (why CBT007 falls short of CBT003), missed ones with no wait yet (why CBT004 by wait
--   falls short). An answered call whose answer time is unknown (wait_bucket null) has no
--   duration either, but that is not for want of an end: it is not listed.
-- Parameters: $month_start, $month_end (exclusive).
-- Columns: practice, call_id, local_date, outcome.
SELECT practice, call_id, local_date, outcome
FROM calls
WHERE inbound
    AND local_date >= $month_start
    AND local_date < $month_end
    AND (
        (outcome = 'answered' AND duration_bucket IS NULL AND wait_bucket IS NOT NULL)
        OR (outcome = 'missed' AND wait_bucket IS NULL)
    )
ORDER BY practice, local_date, call_id
