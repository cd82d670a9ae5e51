-- Query dashboards/benchmarks: a practice (or PCN, ICB) beside the published medians of its
--   PCN, its ICB and England for the same month.
-- Question: this month so far, how do these practices' outcome shares compare with what NHS
--   England published for the same month: for them, and for the typical practice of their
--   PCN, their ICB and England?
-- Grain: one row per comparison, in order: callstream's figures for $practices (the month up
--   to the last of $dates), NHS England's published figures for $practices, the medians of
--   their PCN and of their ICB (when they all share one) and of England. No rows when no
--   NHS England file is loaded for the month (`callstream nhs load`).
-- Parameters: $practices (VARCHAR[]), $dates (DATE[]; the month is that of the last date).
-- Columns: position, who (the label: what, source and month), practices (how many a published
--   median is over), answered_share, ivr_share, missed_share, callback_requested_share (0-1).
WITH period AS (
    SELECT list_max($dates) AS today, date_trunc('month', list_max($dates))::DATE AS month
),
published AS (
    SELECT b.*
    FROM cbt_published_benchmarks AS b, period AS p
    WHERE b.month = p.month
),
source AS (
    SELECT 'NHS England CBT publication, ' || strftime(month, '%B %Y') AS text FROM period
),
org AS (
    -- One PCN (ICB) only when every practice is in it: count() leaves out a practice with
    -- no code, and one in no extract has no row here.
    SELECT
        CASE
            WHEN count(DISTINCT pcn_code) = 1 AND count(pcn_code) = len(list_distinct($practices))
            THEN any_value(pcn_code)
        END AS pcn_code,
        CASE
            WHEN count(DISTINCT icb_code) = 1 AND count(icb_code) = len(list_distinct($practices))
            THEN any_value(icb_code)
        END AS icb_code,
        count(*) AS practices
    FROM practice_hierarchy
    WHERE practice IN (SELECT unnest($practices))
),
ours AS (
    SELECT
        sum(d.value) FILTER (WHERE d.indicator = 'CBT001') AS inbound,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT002') AS ended_in_ivr,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT003') AS answered,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT004') AS missed,
        sum(d.value) FILTER (WHERE d.indicator = 'CBT005') AS callback_requested
    FROM cbt_daily AS d, period AS p
    WHERE d.practice IN (SELECT unnest($practices)) AND d.local_date BETWEEN p.month AND p.today
),
as_published AS (
    SELECT
        sum(inbound) AS inbound,
        sum(ended_in_ivr) AS ended_in_ivr,
        sum(answered) AS answered,
        sum(missed) AS missed,
        sum(callback_requested) AS callback_requested,
        count(*) AS practices
    FROM cbt_published_practice_month AS m, period AS p
    WHERE m.practice IN (SELECT unnest($practices)) AND m.month = p.month
),
rows AS (
    SELECT
        1 AS position,
        'callstream, ' || strftime(p.month, '%B %Y') || ' to ' || strftime(p.today, '%-d %B')
        AS who,
        NULL::BIGINT AS practices,
        o.answered / o.inbound AS answered_share,
        o.ended_in_ivr / o.inbound AS ivr_share,
        o.missed / o.inbound AS missed_share,
        o.callback_requested / o.inbound AS callback_requested_share
    FROM ours AS o, period AS p
    WHERE o.inbound > 0
    UNION ALL
    SELECT
        2,
        'As published (' || s.text || ')',
        a.practices,
        a.answered / a.inbound,
        a.ended_in_ivr / a.inbound,
        a.missed / a.inbound,
        a.callback_requested / a.inbound
    FROM as_published AS a, source AS s
    WHERE a.inbound > 0
    UNION ALL
    SELECT
        CASE b.level WHEN 'pcn' THEN 3 WHEN 'icb' THEN 4 ELSE 5 END,
        CASE b.level WHEN 'england' THEN 'England' ELSE upper(b.level) || ' ' || b.org_code END
        || ' median (' || s.text || ')',
        b.practices,
        b.answered_share,
        b.ivr_share,
        b.missed_share,
        b.callback_requested_share
    FROM published AS b, org AS g, source AS s
    WHERE (b.level = 'pcn' AND b.org_code = g.pcn_code)
        OR (b.level = 'icb' AND b.org_code = g.icb_code)
        OR b.level = 'england'
)
SELECT *
FROM rows
WHERE EXISTS (SELECT 1 FROM published)
ORDER BY position
