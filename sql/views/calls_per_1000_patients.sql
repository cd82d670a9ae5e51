-- View calls_per_1000_patients: demand relative to practice size.
-- Question: how many inbound calls per 1,000 registered patients did a practice, PCN,
--   sub-ICB, ICB or region get in a month?
-- Grain: level x org_code x month (first day of the local month). level is practice | pcn |
--   sub_icb | icb | region ('UNMAPPED' gathers practices with no reference data). Only
--   practices with a known list size (latest list-size extract) enter the rate, so a missing
--   list size lowers coverage, not the rate; inbound_calls counts every practice.
-- Columns: level, org_code, month, inbound_calls, practices, practices_with_list_size,
--   registered_patients, calls_per_1000_patients (null when no list size is known).
WITH monthly AS (
    SELECT
        practice,
        date_trunc('month', local_date)::DATE AS month,
        any_value(pcn_code) AS pcn_code,
        any_value(sub_icb_code) AS sub_icb_code,
        any_value(icb_code) AS icb_code,
        any_value(region_code) AS region_code,
        any_value(list_size) AS list_size,
        count(*) AS inbound_calls
    FROM calls_with_hierarchy
    WHERE inbound
    GROUP BY practice, month
)
SELECT
    l.level,
    l.org_code,
    m.month,
    sum(m.inbound_calls)::BIGINT AS inbound_calls,
    count(*) AS practices,
    count(m.list_size) AS practices_with_list_size,
    sum(m.list_size)::BIGINT AS registered_patients,
    1000.0 * sum(m.inbound_calls) FILTER (WHERE m.list_size IS NOT NULL)
        / nullif(sum(m.list_size), 0) AS calls_per_1000_patients
FROM monthly AS m,
    LATERAL (
        VALUES
            ('practice', m.practice),
            ('pcn', m.pcn_code),
            ('sub_icb', m.sub_icb_code),
            ('icb', m.icb_code),
            ('region', m.region_code)
    ) AS l (level, org_code)
GROUP BY l.level, l.org_code, m.month
