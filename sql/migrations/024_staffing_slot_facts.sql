-- Migration 024: the quarter-hour facts the staffing page reads instead of the calls.
-- Question: per practice, day and local quarter hour, how many calls wanted a person (first
--   attempts and repeats), how long were they talked to and did they wait, how many gave up,
--   and how many people were on the phones, without numbering a month of calls per page?
-- Grain: practice x local_date x slot_start (local quarter hour 00:00 ... 23:45), quarter
--   hours with a call offered to a person, picked up, or talked through (the rows of view
--   staffing_quarter_hours, which reads this table). Recomputed (never incremented) by the
--   writer for every touched (practice, local_date) and the day after it (a call answered or
--   still going after midnight counts there; one picked up outside its own day and the
--   next, or on the phones past the next day, counts only within those), in the batch's own
--   transaction
--   (sql/warehouse/refresh_staffing_slot_facts.sql: the one definition of these figures).
-- Columns: practice, local_date, slot_start (TIME), time_band (null when no call was offered
--   in it), offered, offered_repeat, answered, talked, talk_s, waited, wait_s, gave_up,
--   picked_up, picked_up_by_known, people (as documented on view staffing_quarter_hours).
CREATE TABLE IF NOT EXISTS staffing_slot_facts (
    practice           VARCHAR NOT NULL,
    local_date         DATE    NOT NULL,
    slot_start         TIME    NOT NULL,
    time_band          VARCHAR,
    offered            BIGINT  NOT NULL,
    offered_repeat     BIGINT  NOT NULL,
    answered           BIGINT  NOT NULL,
    talked             BIGINT  NOT NULL,
    talk_s             BIGINT  NOT NULL,
    waited             BIGINT  NOT NULL,
    wait_s             BIGINT  NOT NULL,
    gave_up            BIGINT  NOT NULL,
    picked_up          BIGINT  NOT NULL,
    picked_up_by_known BIGINT  NOT NULL,
    people             BIGINT  NOT NULL
);
ALTER TABLE staffing_slot_facts SET SORTED BY (local_date, practice);
