-- What an export's manifest records about the month it read. Parameters: $month_start,
--   $month_end (exclusive).
-- Columns: inbound_calls, incomplete_calls (no call_ended yet, counted with the outcome
--   their events support), practices, unmapped_practices, rules_versions (sorted list).
SELECT
    count(*) AS inbound_calls,
    count(*) FILTER (WHERE NOT complete) AS incomplete_calls,
    count(DISTINCT practice) AS practices,
    count(DISTINCT practice) FILTER (WHERE NOT mapped) AS unmapped_practices,
    list_sort(list(DISTINCT rules_version)) AS rules_versions
FROM calls_with_hierarchy
WHERE inbound AND local_date >= $month_start AND local_date < $month_end
