-- Query dashboards/practice_ranking: the practices of a PCN or ICB side by side.
-- Question: how do these practices compare on NHS England's CBT measures over these days?
-- Grain: practice, practices in $practices with an inbound call on $dates; sums of
--   practice_day_facts (the writer's per practice-day counts), shares recomputed from them.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: practice, practice_label (code and name), inbound (CBT001), answered (CBT003),
--   ended_in_ivr (CBT002), missed (CBT004), callback_requested (CBT005), callbacks_made
--   (CBT006), answered_share, ivr_share, missed_share, callback_requested_share (of inbound,
--   0-1), share_within_2min (of answered), callbacks_made_share (of requested).
WITH sums AS (
    SELECT
        practice,
        sum(inbound) AS inbound,
        sum(answered) AS answered,
        sum(ended_in_ivr) AS ended_in_ivr,
        sum(missed) AS missed,
        sum(callback_requested) AS callback_requested,
        sum(callbacks_made) AS callbacks_made,
        sum(answered_within_2min) AS answered_within_2min
    FROM practice_day_facts
    WHERE practice IN (SELECT unnest($practices)) AND local_date IN (SELECT unnest($dates))
    GROUP BY practice
)
SELECT
    o.practice,
    o.practice || coalesce(' ' || h.practice_name, '') AS practice_label,
    o.inbound::BIGINT AS inbound,
    o.answered::BIGINT AS answered,
    o.ended_in_ivr::BIGINT AS ended_in_ivr,
    o.missed::BIGINT AS missed,
    o.callback_requested::BIGINT AS callback_requested,
    o.callbacks_made::BIGINT AS callbacks_made,
    o.answered / o.inbound AS answered_share,
    o.ended_in_ivr / o.inbound AS ivr_share,
    o.missed / o.inbound AS missed_share,
    o.callback_requested / o.inbound AS callback_requested_share,
    o.answered_within_2min / nullif(o.answered, 0) AS share_within_2min,
    o.callbacks_made / nullif(o.callback_requested, 0) AS callbacks_made_share
FROM sums AS o
LEFT JOIN practice_hierarchy AS h ON h.practice = o.practice
ORDER BY o.practice
