-- The day's CBT summary per practice (printed by `make run`). Parameter: $local_date.
-- Columns: practice, name (from the reference extracts; null when unknown), CBT001-CBT006
-- from cbt_daily (counted by view cbt_call_indicators); wait_p50: median wait of answered
-- calls (s); 60s_%: share of answered calls answered within 60 s.
WITH counts AS (
    SELECT
        practice,
        sum(value) FILTER (WHERE indicator = 'CBT001')::BIGINT AS CBT001,
        sum(value) FILTER (WHERE indicator = 'CBT002')::BIGINT AS CBT002,
        sum(value) FILTER (WHERE indicator = 'CBT003')::BIGINT AS CBT003,
        sum(value) FILTER (WHERE indicator = 'CBT004')::BIGINT AS CBT004,
        sum(value) FILTER (WHERE indicator = 'CBT005')::BIGINT AS CBT005,
        sum(value) FILTER (WHERE indicator = 'CBT006')::BIGINT AS CBT006
    FROM cbt_daily
    WHERE local_date = $local_date
    GROUP BY practice
),
waits AS (
    SELECT
        practice,
        round(median(wait_s))::INTEGER AS wait_p50,
        round(100.0 * count(*) FILTER (WHERE wait_s <= 60) / count(*))::INTEGER AS "60s_%"
    FROM calls
    WHERE local_date = $local_date AND outcome = 'answered'
    GROUP BY practice
)
SELECT
    coalesce(c.practice, w.practice) AS practice,
    h.practice_name AS name,
    coalesce(c.CBT001, 0) AS CBT001,
    coalesce(c.CBT002, 0) AS CBT002,
    coalesce(c.CBT003, 0) AS CBT003,
    coalesce(c.CBT004, 0) AS CBT004,
    coalesce(c.CBT005, 0) AS CBT005,
    coalesce(c.CBT006, 0) AS CBT006,
    w.wait_p50,
    w."60s_%"
FROM counts AS c
FULL JOIN waits AS w ON w.practice = c.practice
LEFT JOIN practice_hierarchy AS h ON h.practice = coalesce(c.practice, w.practice)
ORDER BY 1
