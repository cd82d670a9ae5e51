-- How many calls of these practices on this local date the warehouse holds (`make run` waits
-- for the simulator's count). Parameters: $day (DATE), $codes (list of ODS codes).
SELECT count(*) AS n
FROM calls
WHERE local_date = $day AND list_contains($codes, practice)
