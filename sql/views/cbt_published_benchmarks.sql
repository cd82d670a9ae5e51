-- View cbt_published_benchmarks: medians of the practices NHS England published, by PCN, ICB
--   and for England, per month.
-- Question: what is a typical practice's answered, IVR, missed and callback share in this
--   PCN, this ICB and England, by NHS England's own published figures for the month?
-- Grain: month x level (pcn, icb, england) x org_code (the publication's PCN_CODE, ICB_CODE;
--   'ENGLAND'), over the practices of cbt_published_practice_month with an inbound call
--   (codes 'Unmapped' form no PCN or ICB).
-- Columns: month, level, org_code, practices, answered_share, ivr_share, missed_share,
--   callback_requested_share (medians across the practices, 0-1; continuous: the mean of the
--   two middle practices when they are even in number).
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
    WHERE inbound > 0
    GROUP BY GROUPING SETS ((month), (month, icb_code), (month, pcn_code))
)
SELECT *
FROM medians
WHERE level = 'england' OR org_code <> 'Unmapped'
