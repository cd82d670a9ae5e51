-- Recompute staffing_slot_facts for the keys in temp table touched_days (practice, local_date)
-- and the day after each: delete their rows, insert them again from the calls of those days
-- and the day before (recomputed, never incremented). A quarter hour of day D counts calls
-- started on D (offered) and calls picked up or still going in it, which started on D or D-1:
-- a call counts as picked up only on its own day or the next, and as on the phones until the
-- end of the next day at most (an answer time outside that is not a real answer); a call
-- with no end (its call_ended never came) only in the quarter hour it was picked up.
-- Grain and columns: migration 024 (view staffing_quarter_hours documents each figure).
-- Repeats are numbered as in view call_attempts (per practice, day and caller, by started_at
--   then call_id), over whole practice-days, so the numbers are the view's.
CREATE OR REPLACE TEMP TABLE staffing_days AS
SELECT DISTINCT practice, local_date + d AS local_date
FROM touched_days, (VALUES (0), (1)) AS t (d);

DELETE FROM staffing_slot_facts AS f
USING staffing_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO staffing_slot_facts
WITH source_days AS (
    SELECT DISTINCT practice, local_date - d AS local_date
    FROM staffing_days, (VALUES (0), (1)) AS t (d)
),
source AS (
    SELECT c.*
    FROM calls AS c
    JOIN source_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
    WHERE c.inbound
),
attempts AS (
    SELECT
        practice,
        call_id,
        row_number() OVER (
            PARTITION BY practice, local_date, caller_key ORDER BY started_at, call_id
        ) AS attempt
    FROM source
    WHERE caller_key IS NOT NULL
),
offered AS (
    SELECT
        c.practice,
        c.local_date,
        time_bucket(INTERVAL 15 MINUTE, c.started_at AT TIME ZONE 'Europe/London')::TIME
            AS slot_start,
        any_value(c.time_band) AS time_band,
        count(*) AS offered,
        count(*) FILTER (WHERE coalesce(a.attempt, 1) > 1) AS offered_repeat,
        count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
        count(c.talk_s) FILTER (WHERE c.outcome = 'answered') AS talked,
        coalesce(sum(c.talk_s) FILTER (WHERE c.outcome = 'answered'), 0)::BIGINT AS talk_s,
        count(c.wait_s) AS waited,
        coalesce(sum(c.wait_s), 0)::BIGINT AS wait_s,
        count(c.wait_s) FILTER (WHERE c.outcome = 'missed') AS gave_up
    FROM source AS c
    LEFT JOIN attempts AS a ON a.practice = c.practice AND a.call_id = c.call_id
    WHERE c.outcome IN ('answered', 'missed', 'callback_requested')
    GROUP BY ALL
),
answers AS (
    -- Picked up on the call's own day or the next; on the phones until the end of the next.
    -- A call whose end never came has no end here (least() would ignore the NULL and keep
    -- its person on the phones for two days): they count where they picked up only.
    SELECT
        practice,
        first_agent,
        time_bucket(INTERVAL 15 MINUTE, answered_at AT TIME ZONE 'Europe/London') AS picked,
        CASE WHEN ended_at IS NOT NULL THEN least(
            time_bucket(INTERVAL 15 MINUTE, ended_at AT TIME ZONE 'Europe/London'),
            (local_date + 2)::TIMESTAMP
        ) END AS ended
    FROM source
    WHERE answered_at IS NOT NULL
        AND (answered_at AT TIME ZONE 'Europe/London')::DATE BETWEEN local_date AND local_date + 1
),
picked AS (
    SELECT
        practice,
        picked::DATE AS local_date,
        picked::TIME AS slot_start,
        count(*) AS picked_up,
        count(first_agent) AS picked_up_by_known
    FROM answers
    GROUP BY ALL
),
on_phones AS (
    SELECT practice, first_agent, picked AS slot
    FROM answers
    WHERE first_agent IS NOT NULL
    UNION ALL
    SELECT
        practice,
        first_agent,
        unnest(
            generate_series(
                picked + INTERVAL 15 MINUTE, ended - INTERVAL 15 MINUTE, INTERVAL 15 MINUTE
            )
        ) AS slot
    FROM answers
    WHERE first_agent IS NOT NULL AND ended >= picked + INTERVAL 30 MINUTE
),
people AS (
    SELECT
        practice,
        slot::DATE AS local_date,
        slot::TIME AS slot_start,
        count(DISTINCT first_agent) AS people
    FROM on_phones
    GROUP BY ALL
),
quarter_hours AS (
    SELECT u.*
    FROM (
        SELECT practice, local_date, slot_start FROM offered
        UNION
        SELECT practice, local_date, slot_start FROM picked
        UNION
        SELECT practice, local_date, slot_start FROM people
    ) AS u
    SEMI JOIN staffing_days AS k ON k.practice = u.practice AND k.local_date = u.local_date
)
SELECT
    q.practice,
    q.local_date,
    q.slot_start,
    o.time_band,
    coalesce(o.offered, 0),
    coalesce(o.offered_repeat, 0),
    coalesce(o.answered, 0),
    coalesce(o.talked, 0),
    coalesce(o.talk_s, 0),
    coalesce(o.waited, 0),
    coalesce(o.wait_s, 0),
    coalesce(o.gave_up, 0),
    coalesce(p.picked_up, 0),
    coalesce(p.picked_up_by_known, 0),
    coalesce(n.people, 0)
FROM quarter_hours AS q
LEFT JOIN offered AS o USING (practice, local_date, slot_start)
LEFT JOIN picked AS p USING (practice, local_date, slot_start)
LEFT JOIN people AS n USING (practice, local_date, slot_start);

DROP TABLE staffing_days;
