-- View staffing_quarter_hours: the work that reached the phones, and who was there for it.
-- Question: in each quarter hour of a day, how many calls wanted a person (first attempts and
--   repeats), how long were callers talked to and how long did they wait, how many gave up,
--   and how many distinct people were on the phones (docs/staffing.md)?
-- Grain: practice x local_date x slot_start (local quarter hour 00:00 ... 23:45), quarter
--   hours with a call offered to a person, picked up, or talked through. Offered = inbound
--   calls that reached a person stage (answered + missed, voicemail included, + callback
--   requested, as in service_level), in the quarter hour the call started; a repeat is a
--   call whose caller had rung the practice earlier that day (call_attempts; withheld
--   numbers count as first). A person (first_agent) is on the phones in a quarter hour when
--   they picked up a call in it (answered_at, local) or were on one call all through it.
-- Columns: practice, local_date, weekday (ISO, 1 = Monday), slot_start (TIME), time_band
--   (the NHS band the quarter hour is in; null when no call was offered in it), offered,
--   offered_first, offered_repeat, answered (of offered), talked (answered calls with a talk
--   time), talk_s (their total talk, seconds), waited (offered calls with a wait), wait_s
--   (their total wait, seconds), gave_up (missed calls with a wait: the caller hung up or
--   went to voicemail), picked_up (calls answered in this quarter hour), picked_up_by_known
--   (of those, how many name who answered: first_agent), people (distinct first_agent on the
--   phones; 0 when no call named who answered).
WITH offered AS (
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
    FROM calls AS c
    LEFT JOIN call_attempts AS a ON a.practice = c.practice AND a.call_id = c.call_id
    WHERE c.inbound AND c.outcome IN ('answered', 'missed', 'callback_requested')
    GROUP BY ALL
),
answers AS (
    SELECT
        practice,
        first_agent,
        time_bucket(INTERVAL 15 MINUTE, answered_at AT TIME ZONE 'Europe/London') AS picked,
        time_bucket(INTERVAL 15 MINUTE, ended_at AT TIME ZONE 'Europe/London') AS ended
    FROM calls
    WHERE inbound AND answered_at IS NOT NULL
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
    SELECT practice, local_date, slot_start FROM offered
    UNION
    SELECT practice, local_date, slot_start FROM picked
    UNION
    SELECT practice, local_date, slot_start FROM people
)
SELECT
    q.practice,
    q.local_date,
    isodow(q.local_date) AS weekday,
    q.slot_start,
    o.time_band,
    coalesce(o.offered, 0) AS offered,
    coalesce(o.offered - o.offered_repeat, 0) AS offered_first,
    coalesce(o.offered_repeat, 0) AS offered_repeat,
    coalesce(o.answered, 0) AS answered,
    coalesce(o.talked, 0) AS talked,
    coalesce(o.talk_s, 0) AS talk_s,
    coalesce(o.waited, 0) AS waited,
    coalesce(o.wait_s, 0) AS wait_s,
    coalesce(o.gave_up, 0) AS gave_up,
    coalesce(p.picked_up, 0) AS picked_up,
    coalesce(p.picked_up_by_known, 0) AS picked_up_by_known,
    coalesce(n.people, 0) AS people
FROM quarter_hours AS q
LEFT JOIN offered AS o USING (practice, local_date, slot_start)
LEFT JOIN picked AS p USING (practice, local_date, slot_start)
LEFT JOIN people AS n USING (practice, local_date, slot_start)
