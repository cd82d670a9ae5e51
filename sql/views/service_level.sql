-- View service_level: the contact-centre service level, per time band.
-- Question: of the calls that waited for a person, what share was answered within 60 s and
--   within 120 s?
-- Grain: practice x local_date x time_band, bands with at least one call offered to a person.
--   Offered = inbound calls that reached a person stage: answered + missed (voicemail
--   included) + callback requested; calls that ended in the IVR are not offered. A callback
--   request is offered but not answered.
-- Columns: practice, local_date, time_band, offered, answered, answered_within_60s,
--   answered_within_120s, service_level_60s, service_level_120s (of offered, 0-1).
SELECT
    practice,
    local_date,
    time_band,
    count(*) AS offered,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 60) AS answered_within_60s,
    count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 120) AS answered_within_120s,
    count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 60) / count(*)
        AS service_level_60s,
    count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 120) / count(*)
        AS service_level_120s
FROM calls
WHERE inbound AND outcome IN ('answered', 'missed', 'callback_requested')
GROUP BY practice, local_date, time_band
