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
WITH practices AS (
    SELECT * FROM cbt_published_practice_month WHERE inbound > 0
),
members AS (
    SELECT month, 'england' AS level, 'ENGLAND' AS org_code, * EXCLUDE (month) FROM practices
    UNION ALL
    SELECT month, 'icb', icb_code, * EXCLUDE (month) FROM practices WHERE icb_code <> 'Unmapped'
    UNION ALL
    SELECT month, 'pcn', pcn_code, * EXCLUDE (month) FROM practices WHERE pcn_code <> 'Unmapped'
)
SELECT
    month,
    level,
    org_code,
    count(*) AS practices,
    median(answered_share) AS answered_share,
    median(ivr_share) AS ivr_share,
    median(missed_share) AS missed_share,
    median(callback_requested_share) AS callback_requested_share
FROM members
GROUP BY month, level, org_code
