-- View calls: one row per classified call (the public contract of design.md).
-- Question: what happened to each call, as NHS England counts it, plus routing and callbacks?
-- Grain: one row per (practice, call_id). A call still open when the worker closed it has
--   complete = false and the outcome its events so far support; a later event replaces the row.
-- Columns: the ClassifiedCall fields in models/classified.py order (practice, call_id,
--   started_at, local_date, time_band, core_category, inbound, outcome, wait_s, wait_bucket,
--   talk_s, duration_bucket, callback_made, request_type, first_team, transfers, routing,
--   caller_key, complete, rules_version, ended_at, callback_answered, callback_wait_s,
--   divert_target, events, first_agent, answered_at), then ingested_at (first seen) and
--   updated_at (last changed), UTC.
SELECT
    practice,
    call_id,
    started_at,
    local_date,
    time_band,
    core_category,
    inbound,
    outcome,
    wait_s,
    wait_bucket,
    talk_s,
    duration_bucket,
    callback_made,
    request_type,
    first_team,
    transfers,
    routing,
    caller_key,
    complete,
    rules_version,
    ended_at,
    callback_answered,
    callback_wait_s,
    divert_target,
    events,
    first_agent,
    answered_at,
    ingested_at,
    updated_at
FROM classified_calls
