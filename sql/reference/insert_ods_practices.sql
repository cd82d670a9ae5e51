-- Load one ods_practices extract from the staged rows `reference_rows` (columns by name).
INSERT INTO ods_practices BY NAME
SELECT * FROM reference_rows
