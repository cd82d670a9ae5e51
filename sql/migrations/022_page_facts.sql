-- Migration 022: the facts the dashboards and analyst views read instead of the calls, and
--   a storage layout that lets a read of one practice-day skip the rest of the month.
-- Question: per practice and day, how did inbound calls end (practice_day_facts), how did
--   the 8am quarter hours go (peak_slot_facts), how often did each caller ring
--   (caller_day_facts), and where did the IVR route each request type (routing_facts),
--   without scanning ~30 million calls a month on every page?
-- Grain: practice_day_facts: practice x local_date, days with an inbound call.
--   peak_slot_facts: practice x local_date x slot_start, quarter hours 07:30-10:15 (local
--   time) with an inbound call. caller_day_facts: practice x local_date x caller_key (known
--   numbers only). routing_facts: practice x local_date x request_type ('unknown' when none).
--   Each is recomputed (never incremented) by the writer for every (practice, local_date) a
--   batch touched, in the batch's own transaction (sql/warehouse/refresh_*_facts.sql).
-- Columns: practice_day_facts: inbound, answered, ended_in_ivr, missed, callback_requested
--   (the one outcome of each inbound call), answered_within_1min/2min/5min (answered with
--   wait_s <= 60/120/300), callbacks_made, callbacks_answered, callbacks_not_made (of the
--   callback_requested calls), withheld_calls (inbound calls with no caller_key).
--   peak_slot_facts: slot_start (TIME), inbound_calls, answered, ended_in_ivr, missed,
--   callback_requested. caller_day_facts: attempts (calls that day), answered (any answered),
--   first_answered_attempt (1-based, by started_at then call_id; null if never answered),
--   callback_requested (any), first_call_at, last_call_at (UTC). routing_facts: calls,
--   answered, right_first_time, transferred, signposted, unrouted.
-- Layout: classified_calls and caller_day_facts are partitioned by local_date (a query for
--   some days opens only those days' files) and sorted by practice when DuckLake writes or
--   compacts them (Parquet min/max statistics then skip the other practices' row groups).
CREATE TABLE IF NOT EXISTS practice_day_facts (
    practice             VARCHAR NOT NULL,
    local_date           DATE    NOT NULL,
    inbound              BIGINT  NOT NULL,
    answered             BIGINT  NOT NULL,
    ended_in_ivr         BIGINT  NOT NULL,
    missed               BIGINT  NOT NULL,
    callback_requested   BIGINT  NOT NULL,
    answered_within_1min BIGINT  NOT NULL,
    answered_within_2min BIGINT  NOT NULL,
    answered_within_5min BIGINT  NOT NULL,
    callbacks_made       BIGINT  NOT NULL,
    callbacks_answered   BIGINT  NOT NULL,
    callbacks_not_made   BIGINT  NOT NULL,
    withheld_calls       BIGINT  NOT NULL
);
CREATE TABLE IF NOT EXISTS peak_slot_facts (
    practice           VARCHAR NOT NULL,
    local_date         DATE    NOT NULL,
    slot_start         TIME    NOT NULL,
    inbound_calls      BIGINT  NOT NULL,
    answered           BIGINT  NOT NULL,
    ended_in_ivr       BIGINT  NOT NULL,
    missed             BIGINT  NOT NULL,
    callback_requested BIGINT  NOT NULL
);
CREATE TABLE IF NOT EXISTS caller_day_facts (
    practice               VARCHAR     NOT NULL,
    local_date             DATE        NOT NULL,
    caller_key             VARCHAR     NOT NULL,
    attempts               BIGINT      NOT NULL,
    answered               BOOLEAN     NOT NULL,
    first_answered_attempt BIGINT,
    callback_requested     BOOLEAN     NOT NULL,
    first_call_at          TIMESTAMPTZ NOT NULL,
    last_call_at           TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS routing_facts (
    practice         VARCHAR NOT NULL,
    local_date       DATE    NOT NULL,
    request_type     VARCHAR NOT NULL,
    calls            BIGINT  NOT NULL,
    answered         BIGINT  NOT NULL,
    right_first_time BIGINT  NOT NULL,
    transferred      BIGINT  NOT NULL,
    signposted       BIGINT  NOT NULL,
    unrouted         BIGINT  NOT NULL
);
ALTER TABLE classified_calls SET PARTITIONED BY (local_date);
ALTER TABLE classified_calls SET SORTED BY (practice, started_at);
ALTER TABLE caller_day_facts SET PARTITIONED BY (local_date);
ALTER TABLE caller_day_facts SET SORTED BY (practice, caller_key);
ALTER TABLE practice_day_facts SET SORTED BY (local_date, practice);
ALTER TABLE peak_slot_facts SET SORTED BY (local_date, practice);
ALTER TABLE routing_facts SET SORTED BY (local_date, practice);
