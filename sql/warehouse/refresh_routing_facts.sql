-- Recompute routing_facts for the keys in temp table touched_days (practice, local_date):
-- delete their rows, insert them again from the calls (recomputed, never incremented).
-- Grain and columns: migration 022; request types ('unknown' when none) with an inbound call.
DELETE FROM routing_facts AS f
USING touched_days AS k
WHERE f.practice = k.practice AND f.local_date = k.local_date;

INSERT INTO routing_facts
SELECT
    c.practice,
    c.local_date,
    coalesce(c.request_type, 'unknown') AS request_type,
    count(*) AS calls,
    count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
    count(*) FILTER (WHERE c.routing = 'right_first_time') AS right_first_time,
    count(*) FILTER (WHERE c.routing = 'transferred') AS transferred,
    count(*) FILTER (WHERE c.routing = 'signposted') AS signposted,
    count(*) FILTER (WHERE c.routing = 'unrouted') AS unrouted
FROM calls AS c
JOIN touched_days AS k ON c.practice = k.practice AND c.local_date = k.local_date
WHERE c.inbound
GROUP BY ALL;
