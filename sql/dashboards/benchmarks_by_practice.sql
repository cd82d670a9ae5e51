-- Query dashboards/benchmarks_by_practice: each practice of a PCN or ICB beside the published
--   medians of its PCN, its ICB and England, for the same month.
-- Question: this month so far, which practices answer less, or miss more, than is typical in
--   their PCN, their ICB and England by NHS England's published figures?
-- Grain: practice, practices in $practices with an inbound call this month (up to the last of
--   $dates); no rows when no NHS England file is loaded for the month.
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]; the month is that of the last date).
-- Columns: practice, practice_label (code and name), answered_share (callstream),
--   published_answered_share, pcn_answered_share, icb_answered_share,
--   england_answered_share (published medians), the same five for missed_share, and source
--   (the publication and month). Shares 0-1.
WITH period AS (
    SELECT list_max($dates) AS today, date_trunc('month', list_max($dates))::DATE AS month
),
published AS (
    SELECT b.*
    FROM cbt_published_benchmarks AS b, period AS p
    WHERE b.month = p.month
),
ours AS (
    SELECT
        d.practice,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT001') AS inbound,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT003') AS answered,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT004') AS missed
    FROM cbt_daily AS d, period AS p
    WHERE d.practice IN (SELECT unnest($practices)) AND d.local_date BETWEEN p.month AND p.today
    GROUP BY d.practice
)
SELECT
    o.practice,
    o.practice || coalesce(' ' || h.practice_name, '') AS practice_label,
    o.answered / o.inbound AS answered_share,
    m.answered_share AS published_answered_share,
    pcn.answered_share AS pcn_answered_share,
    icb.answered_share AS icb_answered_share,
    eng.answered_share AS england_answered_share,
    o.missed / o.inbound AS missed_share,
    m.missed_share AS published_missed_share,
    pcn.missed_share AS pcn_missed_share,
    icb.missed_share AS icb_missed_share,
    eng.missed_share AS england_missed_share,
    'NHS England CBT publication, ' || strftime(p.month, '%B %Y') AS source
FROM ours AS o
CROSS JOIN period AS p
JOIN published AS eng ON eng.level = 'england'
LEFT JOIN practice_hierarchy AS h ON h.practice = o.practice
LEFT JOIN cbt_published_practice_month AS m ON m.practice = o.practice AND m.month = p.month
LEFT JOIN published AS pcn ON pcn.level = 'pcn' AND pcn.org_code = h.pcn_code
LEFT JOIN published AS icb ON icb.level = 'icb' AND icb.org_code = h.icb_code
WHERE o.inbound > 0
ORDER BY o.practice
