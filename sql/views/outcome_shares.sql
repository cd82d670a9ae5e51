-- View outcome_shares: how a practice's inbound calls ended, as shares.
-- Question: what share of calls was answered, ended in the IVR, was missed or asked for a
--   callback (NHS England's four outcomes)?
-- Grain: practice x local_date, days with at least one inbound call. Shares are of inbound
--   calls (CBT001) and sum to 1; missed_share_of_offered is missed over the calls that
--   reached a person stage (inbound minus ended in IVR), the figure a practice can act on.
-- Columns: practice, local_date, inbound, answered, ended_in_ivr, missed, callback_requested,
--   answered_share, ivr_share, missed_share, callback_requested_share,
--   missed_share_of_offered (null when nothing was offered).
-- Source: practice_day_facts (migration 022), kept by the warehouse writer.
SELECT
    practice,
    local_date,
    inbound,
    answered,
    ended_in_ivr,
    missed,
    callback_requested,
    answered / inbound AS answered_share,
    ended_in_ivr / inbound AS ivr_share,
    missed / inbound AS missed_share,
    callback_requested / inbound AS callback_requested_share,
    missed / nullif(inbound - ended_in_ivr, 0) AS missed_share_of_offered
FROM practice_day_facts
