-- The day's CBT summary per practice (used by `make run`). Parameter: $local_date.
SELECT
    practice,
    count(*) FILTER (WHERE inbound)                             AS cbt001_inbound,
    count(*) FILTER (WHERE outcome = 'ended_in_ivr')            AS cbt002_ended_in_ivr,
    count(*) FILTER (WHERE outcome = 'answered')                AS cbt003_answered,
    count(*) FILTER (WHERE outcome = 'missed')                  AS cbt004_missed,
    count(*) FILTER (WHERE outcome = 'callback_requested')      AS cbt005_callback_requested,
    count(*) FILTER (WHERE outcome = 'callback_requested' AND callback_made)
                                                                AS cbt006_callbacks_made,
    round(median(wait_s) FILTER (WHERE outcome = 'answered'))   AS median_wait_s,
    round(100.0 * count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 60)
          / nullif(count(*) FILTER (WHERE outcome = 'answered'), 0)) AS answered_within_60s_pct
FROM calls
WHERE local_date = $local_date
GROUP BY practice
ORDER BY practice
