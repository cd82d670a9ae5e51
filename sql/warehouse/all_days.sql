-- Every (practice, local_date) in the warehouse: the keys of a full rebuild of aggregates.
-- Output: temp table touched_days (practice, local_date).
CREATE OR REPLACE TEMP TABLE touched_days AS
SELECT DISTINCT practice, local_date FROM classified_calls;
