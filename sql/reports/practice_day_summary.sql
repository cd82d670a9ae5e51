-- The day's CBT summary per practice (printed by `make run`). Parameter: $local_date.
-- CBT001 inbound calls, CBT002 ended in the IVR, CBT003 answered, CBT004 missed,
-- CBT005 callback requested, CBT006 callbacks made for those requests; wait_p50: median wait
-- of answered calls (s); 60s_%: share of answered calls answered within 60 s.
SELECT
    practice,
    count(*) FILTER (WHERE inbound)                                         AS CBT001,
    count(*) FILTER (WHERE outcome = 'ended_in_ivr')                        AS CBT002,
    count(*) FILTER (WHERE outcome = 'answered')                            AS CBT003,
    count(*) FILTER (WHERE outcome = 'missed')                              AS CBT004,
    count(*) FILTER (WHERE outcome = 'callback_requested')                  AS CBT005,
    count(*) FILTER (WHERE outcome = 'callback_requested' AND callback_made) AS CBT006,
    round(median(wait_s) FILTER (WHERE outcome = 'answered'))::INTEGER      AS wait_p50,
    round(100.0 * count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 60)
          / nullif(count(*) FILTER (WHERE outcome = 'answered'), 0))::INTEGER AS "60s_%"
FROM calls
WHERE local_date = $local_date
GROUP BY practice
ORDER BY practice
