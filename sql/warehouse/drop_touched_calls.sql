-- Drop the batch's temp table `calls` (sql/warehouse/touched_calls.sql), so the lake's view
-- `calls` is seen again on this connection. Only the temp one: qualified.
DROP TABLE IF EXISTS temp.main.calls;
