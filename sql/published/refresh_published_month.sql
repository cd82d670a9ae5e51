-- Recompute the published figures per practice and month, and the PCN, ICB and England
--   medians, for the month a load touched (temp table loaded_month), in the load's own
--   transaction: dashboards read these small tables instead of aggregating every published
--   row on each page (a national month is about 8 million rows).
-- Which figure: the day and time file's when both it and the durations file are loaded;
--   Unassigned (shared phone accounts) is left out; medians are continuous (the mean of the
--   two middle practices when they are even in number) over practices with an inbound call;
--   codes 'Unmapped' form no PCN or ICB.
DELETE FROM cbt_published_practice_month WHERE month IN (SELECT month FROM loaded_month);

INSERT INTO cbt_published_practice_month
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
    WHERE practice <> 'Unassigned'
        AND file_kind IN ('day_time', 'durations')
        AND month IN (SELECT month FROM loaded_month)
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
FROM practice_month;

DELETE FROM cbt_published_benchmarks WHERE month IN (SELECT month FROM loaded_month);

INSERT INTO cbt_published_benchmarks
WITH medians AS (
    SELECT
        month,
        CASE
            WHEN grouping(pcn_code) = 0 THEN 'pcn'
            WHEN grouping(icb_code) = 0 THEN 'icb'
            ELSE 'england'
        END AS level,
        coalesce(pcn_code, icb_code, 'ENGLAND') AS org_code,
        count(*) AS practices,
        median(answered_share) AS answered_share,
        median(ivr_share) AS ivr_share,
        median(missed_share) AS missed_share,
        median(callback_requested_share) AS callback_requested_share
    FROM cbt_published_practice_month
    WHERE inbound > 0 AND month IN (SELECT month FROM loaded_month)
    GROUP BY GROUPING SETS ((month), (month, icb_code), (month, pcn_code))
)
SELECT *
FROM medians
WHERE level = 'england' OR org_code <> 'Unmapped';
