-- Load one practice_mappings extract from the staged rows `reference_rows` (columns by name).
INSERT INTO practice_mappings BY NAME
SELECT * FROM reference_rows
