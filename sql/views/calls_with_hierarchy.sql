-- View calls_with_hierarchy: every classified call with its practice's place in the NHS.
-- Question: which PCN, sub-ICB, ICB and region does each call belong to?
-- Grain: one row per call, exactly the rows of `calls` (a LEFT JOIN: calls from a practice in
--   no reference extract still appear, with the code 'UNMAPPED' at every level and
--   mapped = false; a practice known to epraccur but not to the mapping has pcn_code
--   'UNMAPPED').
-- Columns: every column of `calls`, then pcn_code, sub_icb_code, icb_code, region_code,
--   list_size (registered patients, null when unknown), mapped.
SELECT
    c.*,
    coalesce(h.pcn_code, 'UNMAPPED') AS pcn_code,
    coalesce(h.sub_icb_code, 'UNMAPPED') AS sub_icb_code,
    coalesce(h.icb_code, 'UNMAPPED') AS icb_code,
    coalesce(h.region_code, 'UNMAPPED') AS region_code,
    h.list_size,
    h.practice IS NOT NULL AS mapped
FROM calls AS c
LEFT JOIN practice_hierarchy AS h ON h.practice = c.practice
