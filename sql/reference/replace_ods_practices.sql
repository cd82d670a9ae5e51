-- Remove the rows of one ods_practices extract before it is loaded again. Parameter: $extract_date.
DELETE FROM ods_practices WHERE extract_date = $extract_date
