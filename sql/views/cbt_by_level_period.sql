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
-- Columns: level, org_code, period, period_start, indicator, value, practices (practices with
--   inbound calls in the group).
WITH daily AS (
    SELECT
        practice,
        local_date,
        pcn_code,
        sub_icb_code,
        icb_code,
        region_code,
        count(*) AS cbt001,
        count(*) FILTER (WHERE outcome = 'ended_in_ivr') AS cbt002,
        count(*) FILTER (WHERE outcome = 'answered') AS cbt003,
        count(*) FILTER (WHERE outcome = 'missed') AS cbt004,
        count(*) FILTER (WHERE outcome = 'callback_requested') AS cbt005,
        count(*) FILTER (WHERE outcome = 'callback_requested' AND callback_made) AS cbt006
    FROM calls_with_hierarchy
    WHERE inbound
    GROUP BY practice, local_date, pcn_code, sub_icb_code, icb_code, region_code
)
SELECT
    l.level,
    l.org_code,
    p.period,
    p.period_start,
    i.indicator,
    sum(i.value)::BIGINT AS value,
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
    ) AS p (period, period_start),
    LATERAL (
        VALUES
            ('CBT001', d.cbt001),
            ('CBT002', d.cbt002),
            ('CBT003', d.cbt003),
            ('CBT004', d.cbt004),
            ('CBT005', d.cbt005),
            ('CBT006', d.cbt006),
            ('CBT007', d.cbt003)
    ) AS i (indicator, value)
GROUP BY l.level, l.org_code, p.period, p.period_start, i.indicator
