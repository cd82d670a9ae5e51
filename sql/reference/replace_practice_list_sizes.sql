-- Remove the rows of one practice_list_sizes extract before it is loaded again. Parameter: $extract_date.
DELETE FROM practice_list_sizes WHERE extract_date = $extract_date
