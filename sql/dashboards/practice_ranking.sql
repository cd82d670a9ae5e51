-- Query dashboards/practice_ranking: the practices of a PCN or ICB side by side.
-- Question: how do these practices compare on NHS England's CBT measures over these days?
-- Grain: practice, practices in $practices with an inbound call on $dates; sums of the
--   analyst views outcome_shares, answer_speed and callbacks, shares recomputed from them.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]).
-- Columns: practice, practice_label (code and name), inbound (CBT001), answered (CBT003),
--   ended_in_ivr (CBT002), missed (CBT004), callback_requested (CBT005), callbacks_made
--   (CBT006), answered_share, ivr_share, missed_share, callback_requested_share (of inbound,
--   0-1), share_within_2min (of answered), callbacks_made_share (of requested).
WITH outcomes AS (
    SELECT
        practice,
        sum(inbound) AS inbound,
        sum(answered) AS answered,
        sum(ended_in_ivr) AS ended_in_ivr,
        sum(missed) AS missed,
        sum(callback_requested) AS callback_requested
    FROM outcome_shares
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
    GROUP BY practice
),
speed AS (
    SELECT practice, sum(answered_within_2min) AS answered_within_2min
    FROM answer_speed
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
    GROUP BY practice
),
made AS (
    SELECT practice, sum(callbacks_made) AS callbacks_made
    FROM callbacks
    WHERE list_contains($practices, practice) AND list_contains($dates, local_date)
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
    coalesce(m.callbacks_made, 0)::BIGINT AS callbacks_made,
    o.answered / o.inbound AS answered_share,
    o.ended_in_ivr / o.inbound AS ivr_share,
    o.missed / o.inbound AS missed_share,
    o.callback_requested / o.inbound AS callback_requested_share,
    s.answered_within_2min / nullif(o.answered, 0) AS share_within_2min,
    m.callbacks_made / nullif(o.callback_requested, 0) AS callbacks_made_share
FROM outcomes AS o
LEFT JOIN speed AS s ON s.practice = o.practice
LEFT JOIN made AS m ON m.practice = o.practice
LEFT JOIN practice_hierarchy AS h ON h.practice = o.practice
ORDER BY o.practice
