-- Recompute practice_day_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls. Recomputed, never incremented, so a
-- replay or a correction leaves exactly what a full recount would.
-- Grain and columns: migration 022; one row per touched practice-day with an inbound call.
DELETE FROM practice_day_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO practice_day_facts
WITH cbt AS (
    -- The NHS outcome counts are cbt_daily_facts' (refreshed just before, in the same
    -- transaction: its rule is view cbt_call_indicators, written once), summed over bands.
    SELECT
        f.practice,
        f.local_date,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT001') AS inbound,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT002') AS ended_in_ivr,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT003') AS answered,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT004') AS missed,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT005') AS callback_requested,
        sum(f.value) FILTER (WHERE f.indicator = 'CBT006') AS callbacks_made
    FROM cbt_daily_facts AS f
    JOIN touched_days AS k ON f.practice = k.practice AND f.local_date = k.local_date
    GROUP BY f.practice, f.local_date
),
more AS (
    SELECT
        c.practice,
        c.local_date,
        count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 60) AS within_1min,
        count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 120) AS within_2min,
        count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_s <= 300) AS within_5min,
        count(*) FILTER (WHERE c.outcome = 'callback_requested' AND c.callback_answered)
            AS callbacks_answered,
        count(*) FILTER (WHERE c.caller_key IS NULL) AS withheld_calls
    FROM calls AS c
    JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
    WHERE c.inbound
    GROUP BY c.practice, c.local_date
)
SELECT
    cbt.practice,
    cbt.local_date,
    cbt.inbound,
    cbt.answered,
    cbt.ended_in_ivr,
    cbt.missed,
    cbt.callback_requested,
    more.within_1min AS answered_within_1min,
    more.within_2min AS answered_within_2min,
    more.within_5min AS answered_within_5min,
    cbt.callbacks_made,
    more.callbacks_answered,
    cbt.callback_requested - cbt.callbacks_made AS callbacks_not_made,
    more.withheld_calls
FROM cbt
JOIN more ON cbt.practice = more.practice AND cbt.local_date = more.local_date;
