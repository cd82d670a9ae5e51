-- Remove the rows of one practice_mappings extract before it is loaded again. Parameter: $extract_date.
DELETE FROM practice_mappings WHERE extract_date = $extract_date
