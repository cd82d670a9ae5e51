-- View cbt_published_practice_month: NHS England's published CBT figures per practice and month.
-- Question: what did NHS England publish for each practice in a month (files loaded with
--   `callstream nhs load`), and what were its outcome shares?
-- Grain: month x practice in the published by day and time or durations file (the day and
--   time file's figure when both are loaded); Unassigned (shared phone accounts) is left out.
-- Columns: month (first day), practice, pcn_code, icb_code, region_code (the publication's
--   own geography, most frequent in the month), inbound (CBT001), ended_in_ivr (CBT002),
--   answered (CBT003), missed (CBT004), callback_requested (CBT005), callbacks_made (CBT006),
--   answered_share, ivr_share, missed_share, callback_requested_share (of inbound, 0-1;
--   null when inbound is 0).
WITH sums AS (
    SELECT
        month,
        practice,
        file_kind,
        indicator,
        sum(value) AS value,
        mode(pcn_code) AS pcn_code,
        mode(icb_code) AS icb_code,
        mode(region_code) AS region_code
    FROM nhs_cbt_published
    WHERE practice <> 'Unassigned' AND file_kind IN ('day_time', 'durations')
    GROUP BY month, practice, file_kind, indicator
),
chosen AS (
    SELECT *
    FROM sums
    QUALIFY row_number() OVER (
        PARTITION BY month, practice, indicator ORDER BY file_kind = 'day_time' DESC
    ) = 1
),
practice_month AS (
    SELECT
        month,
        practice,
        mode(pcn_code) AS pcn_code,
        mode(icb_code) AS icb_code,
        mode(region_code) AS region_code,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT001'), 0)::BIGINT AS inbound,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT002'), 0)::BIGINT AS ended_in_ivr,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT003'), 0)::BIGINT AS answered,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT004'), 0)::BIGINT AS missed,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT005'), 0)::BIGINT AS callback_requested,
        coalesce(sum(value) FILTER (WHERE indicator = 'CBT006'), 0)::BIGINT AS callbacks_made
    FROM chosen
    GROUP BY month, practice
)
SELECT
    *,
    answered / nullif(inbound, 0) AS answered_share,
    ended_in_ivr / nullif(inbound, 0) AS ivr_share,
    missed / nullif(inbound, 0) AS missed_share,
    callback_requested / nullif(inbound, 0) AS callback_requested_share
FROM practice_month
