-- View outcome_shares: how a practice's inbound calls ended, as shares.
-- Question: what share of calls was answered, ended in the IVR, was missed or asked for a
--   callback (NHS England's four outcomes)?
-- Grain: practice x local_date, days with at least one inbound call. Shares are of inbound
--   calls (CBT001) and sum to 1; missed_share_of_offered is missed over the calls that
--   reached a person stage (inbound minus ended in IVR), the figure a practice can act on.
-- Columns: practice, local_date, inbound, answered, ended_in_ivr, missed, callback_requested,
--   answered_share, ivr_share, missed_share, callback_requested_share,
--   missed_share_of_offered (null when nothing was offered).
SELECT
    practice,
    local_date,
    count(*) AS inbound,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'ended_in_ivr') AS ended_in_ivr,
    count(*) FILTER (WHERE outcome = 'missed') AS missed,
    count(*) FILTER (WHERE outcome = 'callback_requested') AS callback_requested,
    count(*) FILTER (WHERE outcome = 'answered') / count(*) AS answered_share,
    count(*) FILTER (WHERE outcome = 'ended_in_ivr') / count(*) AS ivr_share,
    count(*) FILTER (WHERE outcome = 'missed') / count(*) AS missed_share,
    count(*) FILTER (WHERE outcome = 'callback_requested') / count(*)
        AS callback_requested_share,
    count(*) FILTER (WHERE outcome = 'missed')
        / nullif(count(*) FILTER (WHERE outcome <> 'ended_in_ivr'), 0)
        AS missed_share_of_offered
FROM calls
WHERE inbound
GROUP BY practice, local_date
