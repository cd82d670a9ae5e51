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
-- Source: staffing_slot_facts (migration 024), kept by the writer for every touched practice-day
--   (sql/warehouse/refresh_staffing_slot_facts.sql computes each figure from the calls; a call
--   is picked up and on the phones on its own day and the next, not later).
SELECT
    practice,
    local_date,
    isodow(local_date) AS weekday,
    slot_start,
    time_band,
    offered,
    offered - offered_repeat AS offered_first,
    offered_repeat,
    answered,
    talked,
    talk_s,
    waited,
    wait_s,
    gave_up,
    picked_up,
    picked_up_by_known,
    people
FROM staffing_slot_facts
