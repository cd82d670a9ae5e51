-- A synthetic month of classified calls for bench/export_bench.py (not the product's data).
-- Question: what does the export cost on a month of $calls calls at $practices practices?
-- Grain: one row per call, August 2026, spread evenly over practices, days and time bands;
--   outcomes about as NHS England's August 2026 shares (58% answered, 25% IVR, 7% callback,
--   10% missed); waits 0-399 s and talk 0-499 s.
-- Parameters: $practices, $calls (BIGINT).
INSERT INTO classified_calls
WITH base AS (
  SELECT i,
    'P' || lpad((i % $practices)::VARCHAR, 5, '0') AS practice,
    DATE '2026-08-01' + ((i // $practices) % 31)::INTEGER AS local_date,
    hash(i) AS h
  FROM range($calls) t(i)
), shaped AS (
  SELECT *, ['00:00-05:59','06:00-07:59','08:00-09:59','10:00-11:59','12:00-13:59','14:00-15:59','16:00-17:59','18:00-18:29','18:30-23:59'][1 + (h % 9)::INTEGER] AS band,
    (h // 9) % 100 AS o, (h // 900) % 400 AS w, (h // 360000) % 500 AS t
  FROM base
)
SELECT practice, 'c' || i, local_date::TIMESTAMPTZ, local_date, band,
  CASE WHEN dayofweek(local_date) IN (0, 6) OR local_date = DATE '2026-08-31' THEN 'Non-Core'
       WHEN band = '08:00-09:59' THEN 'Core_8_10'
       WHEN band IN ('10:00-11:59','12:00-13:59','14:00-15:59','16:00-17:59','18:00-18:29') THEN 'Core_10_1830'
       ELSE 'Non-Core' END,
  true,
  CASE WHEN o < 58 THEN 'answered' WHEN o < 83 THEN 'ended_in_ivr' WHEN o < 90 THEN 'callback_requested' ELSE 'missed' END AS outcome,
  CASE WHEN o < 83 AND o >= 58 THEN NULL ELSE w END,
  CASE WHEN o < 83 AND o >= 58 THEN NULL WHEN w = 0 THEN '0' WHEN w > 300 THEN '>300' WHEN w > 240 THEN '241_300'
       ELSE ((w - 1) // 30 * 30 + 1)::VARCHAR || '_' || ((w - 1) // 30 * 30 + 30)::VARCHAR END,
  CASE WHEN o < 58 THEN t END,
  CASE WHEN o >= 58 THEN NULL WHEN t <= 60 THEN '1 minute or less' WHEN t <= 120 THEN '1 to 2 minutes'
       WHEN t <= 300 THEN '2 to 5 minutes' ELSE 'over 5 minutes' END,
  o BETWEEN 83 AND 88, NULL, NULL, 0, CASE WHEN o < 58 THEN 'right_first_time' ELSE 'unrouted' END,
  'k' || (h % 5000), true, 'bench', NULL, NULL, NULL, NULL, 4, now(), now()
FROM shaped
