-- The practices of a PCN or an ICB, for its live wallboard roll-up (streams/worker/wallboard.py).
-- Question: which practices does the PCN (level 'pcn') or ICB (level 'icb') `code` hold, by
--   the latest reference extracts (view practice_hierarchy)?
-- Grain: one row per practice of the organisation.
-- Columns: practice (ODS code). Parameters: $level ('pcn' | 'icb'), $code.
SELECT practice
FROM practice_hierarchy
WHERE ($level = 'pcn' AND pcn_code = $code) OR ($level = 'icb' AND icb_code = $code)
ORDER BY practice
