-- A relay leases the outbox rows it is publishing, so several gateways sharing one database
-- publish each row once (a crashed relay's lease runs out and another takes the rows).
ALTER TABLE outbox ADD COLUMN relay_lease_until BIGINT;
