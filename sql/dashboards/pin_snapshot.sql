-- Statement dashboards/pin_snapshot: the small tables most pages join, worked out once per
--   pinned snapshot instead of on every page.
-- Question: which name, PCN and ICB does each practice have (view practice_hierarchy, the
--   one definition), and what did NHS England publish (cbt_published_practice_month,
--   cbt_published_benchmarks), at the snapshot the dashboards read?
-- Grain and columns: those of the view and tables of the same names. Temp tables, on the
--   connection pinned at one snapshot only: the queries under sql/dashboards that name them
--   read these (DuckDB looks in temp first), and at a pinned snapshot nothing can change,
--   so they hold exactly what the lake would return (thousands of rows, not calls).
CREATE OR REPLACE TEMP TABLE practice_hierarchy AS
SELECT * FROM lake.main.practice_hierarchy;

CREATE OR REPLACE TEMP TABLE cbt_published_practice_month AS
SELECT * FROM lake.main.cbt_published_practice_month;

CREATE OR REPLACE TEMP TABLE cbt_published_benchmarks AS
SELECT * FROM lake.main.cbt_published_benchmarks;
