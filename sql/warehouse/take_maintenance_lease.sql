-- Take or renew the maintenance lease (migration 020) for $holder until now + $lease_s
-- seconds, if it is free, expired, or already $holder's. Two workers taking it at once both
-- update the one row: DuckLake lets only the first commit, so one worker maintains.
-- Result: one row, the number of rows updated (1: the lease is $holder's, 0: another's).
UPDATE maintenance_lease
SET holder = $holder, expires_at = now() + to_seconds($lease_s)
WHERE holder = $holder OR expires_at < now()
