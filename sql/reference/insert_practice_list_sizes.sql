-- Load one practice_list_sizes extract from the staged rows `reference_rows` (columns by name).
INSERT INTO practice_list_sizes BY NAME
SELECT * FROM reference_rows
