-- View cbt_by_level_period: NHS England's CBT001-CBT007 rolled up the NHS hierarchy and in time.
-- Question: how many inbound calls did a practice / PCN / sub-ICB / ICB / region get in a day,
--   week or month, and how did they end?
-- Grain: level x org_code x period x period_start x indicator. level is practice | pcn |
--   sub_icb | icb | region; org_code is that level's code ('UNMAPPED' gathers practices with
--   no reference data); period is day | week (ISO, starting Monday) | month; period_start is
--   its first date (local, Europe/London). Only inbound calls count; an org with no inbound
--   call in a period has no rows; otherwise all seven indicators are present (0 included).
-- Indicators as in cbt_daily: CBT001 inbound, CBT002 ended in IVR, CBT003 answered, CBT004
--   missed (voicemail included), CBT005 callback requested, CBT006 callbacks made for CBT005
--   calls, CBT007 answered calls by duration (count = CBT003).
-- Built on cbt_daily (materialised by the writer) and practice_hierarchy (the same codes as
--   calls_with_hierarchy), so it stays cheap at national volume.
-- Columns: level, org_code, period, period_start, indicator, value, practices (practices with
--   inbound calls in the group).
WITH daily AS (
    SELECT
        d.practice,
        d.local_date,
        coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
        coalesce(h.sub_icb_code, 'UNMAPPED') AS sub_icb_code,
        coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
        coalesce(h.region_code, 'UNMAPPED') AS region_code,
        d.indicator,
        sum(d.value) AS value
    FROM cbt_daily AS d
    LEFT JOIN practice_hierarchy AS h ON h.practice = d.practice
    GROUP BY ALL
)
SELECT
    l.level,
    l.org_code,
    p.period,
    p.period_start,
    d.indicator,
    sum(d.value)::BIGINT AS value,
    count(DISTINCT d.practice) AS practices
FROM daily AS d,
    LATERAL (
        VALUES
            ('practice', d.practice),
            ('pcn', d.pcn_code),
            ('sub_icb', d.sub_icb_code),
            ('icb', d.icb_code),
            ('region', d.region_code)
    ) AS l (level, org_code),
    LATERAL (
        VALUES
            ('day', d.local_date),
            ('week', date_trunc('week', d.local_date)::DATE),
            ('month', date_trunc('month', d.local_date)::DATE)
    ) AS p (period, period_start)
GROUP BY l.level, l.org_code, p.period, p.period_start, d.indicator
