-- Write one batch of classified calls into classified_calls (one statement per batch).
-- Input: the registered relation `batch_calls`, one row per (practice, call_id) with the
--   ClassifiedCall columns (Warehouse.merge_calls keeps the last copy of a call in a batch).
-- A call seen before is updated only when some field differs, so a replay writes nothing;
--   ingested_at keeps the first time the call was seen, updated_at the last change.
-- Never backwards: a version built from fewer events than the stored one is older (a call's
--   event count only grows) and is skipped. With several workers, a writer whose partition
--   has moved on may still commit a batch it took before (a rebalance that outlasted it):
--   its old copy of a call must not replace the newer one the partition's new owner wrote.
-- Result: one row, the number of rows inserted or updated.
MERGE INTO classified_calls AS t
USING batch_calls AS s
ON t.practice = s.practice AND t.call_id = s.call_id
WHEN MATCHED AND s.events >= t.events AND (
        t.started_at IS DISTINCT FROM s.started_at
        OR t.local_date IS DISTINCT FROM s.local_date
        OR t.time_band IS DISTINCT FROM s.time_band
        OR t.core_category IS DISTINCT FROM s.core_category
        OR t.inbound IS DISTINCT FROM s.inbound
        OR t.outcome IS DISTINCT FROM s.outcome
        OR t.wait_s IS DISTINCT FROM s.wait_s
        OR t.wait_bucket IS DISTINCT FROM s.wait_bucket
        OR t.talk_s IS DISTINCT FROM s.talk_s
        OR t.duration_bucket IS DISTINCT FROM s.duration_bucket
        OR t.callback_made IS DISTINCT FROM s.callback_made
        OR t.request_type IS DISTINCT FROM s.request_type
        OR t.first_team IS DISTINCT FROM s.first_team
        OR t.transfers IS DISTINCT FROM s.transfers
        OR t.routing IS DISTINCT FROM s.routing
        OR t.caller_key IS DISTINCT FROM s.caller_key
        OR t.complete IS DISTINCT FROM s.complete
        OR t.rules_version IS DISTINCT FROM s.rules_version
        OR t.ended_at IS DISTINCT FROM s.ended_at
        OR t.callback_answered IS DISTINCT FROM s.callback_answered
        OR t.callback_wait_s IS DISTINCT FROM s.callback_wait_s
        OR t.divert_target IS DISTINCT FROM s.divert_target
        OR t.events IS DISTINCT FROM s.events
        OR t.first_agent IS DISTINCT FROM s.first_agent
        OR t.answered_at IS DISTINCT FROM s.answered_at
    ) THEN UPDATE SET
        started_at = s.started_at,
        local_date = s.local_date,
        time_band = s.time_band,
        core_category = s.core_category,
        inbound = s.inbound,
        outcome = s.outcome,
        wait_s = s.wait_s,
        wait_bucket = s.wait_bucket,
        talk_s = s.talk_s,
        duration_bucket = s.duration_bucket,
        callback_made = s.callback_made,
        request_type = s.request_type,
        first_team = s.first_team,
        transfers = s.transfers,
        routing = s.routing,
        caller_key = s.caller_key,
        complete = s.complete,
        rules_version = s.rules_version,
        ended_at = s.ended_at,
        callback_answered = s.callback_answered,
        callback_wait_s = s.callback_wait_s,
        divert_target = s.divert_target,
        events = s.events,
        first_agent = s.first_agent,
        answered_at = s.answered_at,
        updated_at = now()
WHEN NOT MATCHED THEN INSERT (
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
    ) VALUES (
        s.practice,
        s.call_id,
        s.started_at,
        s.local_date,
        s.time_band,
        s.core_category,
        s.inbound,
        s.outcome,
        s.wait_s,
        s.wait_bucket,
        s.talk_s,
        s.duration_bucket,
        s.callback_made,
        s.request_type,
        s.first_team,
        s.transfers,
        s.routing,
        s.caller_key,
        s.complete,
        s.rules_version,
        s.ended_at,
        s.callback_answered,
        s.callback_wait_s,
        s.divert_target,
        s.events,
        s.first_agent,
        s.answered_at,
        now(),
        now()
    )
