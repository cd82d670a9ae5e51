-- View staffing_quarter_hours: the work that reached the phones, and who answered it.
-- Question: in each quarter hour of a day, how many calls wanted a person (first attempts and
--   repeats), how long were callers talked to and how long did they wait, how many gave up,
--   and how many distinct people answered (docs/staffing.md)?
-- Grain: practice x local_date x slot_start (local quarter hour 00:00 ... 23:45), quarter
--   hours with a call offered to a person or answered. Offered = inbound calls that reached
--   a person stage (answered + missed, voicemail included, + callback requested, as in
--   service_level), in the quarter hour the call started; a repeat is a call whose caller had
--   rung the practice earlier that day (call_attempts; withheld numbers count as first).
--   People are counted in the quarter hour they picked up (answered_at, local).
-- Columns: practice, local_date, weekday (ISO, 1 = Monday), slot_start (TIME), offered,
--   offered_first, offered_repeat, answered (of offered), talked (answered calls with a talk
--   time), talk_s (their total talk, seconds), waited (offered calls with a wait), wait_s
--   (their total wait, seconds), gave_up (missed calls with a wait: the caller hung up or
--   went to voicemail), picked_up (calls answered in this quarter hour), picked_up_by_known
--   (of those, how many name who answered: first_agent), people (distinct first_agent among
--   them; 0 when none named who answered).
WITH offered AS (
    SELECT
        c.practice,
        c.local_date,
        make_time(
            hour(c.started_at AT TIME ZONE 'Europe/London'),
            minute(c.started_at AT TIME ZONE 'Europe/London') // 15 * 15,
            0
        ) AS slot_start,
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
picked AS (
    SELECT
        practice,
        (answered_at AT TIME ZONE 'Europe/London')::DATE AS local_date,
        make_time(
            hour(answered_at AT TIME ZONE 'Europe/London'),
            minute(answered_at AT TIME ZONE 'Europe/London') // 15 * 15,
            0
        ) AS slot_start,
        count(*) AS picked_up,
        count(first_agent) AS picked_up_by_known,
        count(DISTINCT first_agent) AS people
    FROM calls
    WHERE inbound AND answered_at IS NOT NULL
    GROUP BY ALL
)
SELECT
    coalesce(o.practice, p.practice) AS practice,
    coalesce(o.local_date, p.local_date) AS local_date,
    isodow(coalesce(o.local_date, p.local_date)) AS weekday,
    coalesce(o.slot_start, p.slot_start) AS slot_start,
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
    coalesce(p.people, 0) AS people
FROM offered AS o
FULL OUTER JOIN picked AS p
    ON p.practice = o.practice AND p.local_date = o.local_date AND p.slot_start = o.slot_start
