-- Query dashboards/organisations: the practices, PCNs and ICBs that get dashboard pages.
-- Question: which practices have inbound calls, and which PCN and ICB does each belong to?
-- Grain: one row per practice with at least one inbound call. A practice in no reference
--   extract gets the code 'UNMAPPED' for PCN and ICB (grouped on one page per level), as in
--   calls_with_hierarchy; names are null when unknown.
-- Parameters: none. Reads practice_day_facts (a row per practice-day with an inbound call).
-- Columns: practice, practice_name, pcn_code, pcn_name, icb_code, icb_name.
WITH seen AS (
    SELECT DISTINCT practice
    FROM practice_day_facts
)
SELECT
    s.practice,
    h.practice_name,
    coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
    h.pcn_name,
    coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
    h.icb_name
FROM seen AS s
LEFT JOIN practice_hierarchy AS h ON h.practice = s.practice
ORDER BY s.practice
