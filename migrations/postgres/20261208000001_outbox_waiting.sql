-- The outbox is only appended to; what waits for the relay is a narrow table of its own.
-- An outbox row was written once and updated twice (the relay's lease, then `published_at`),
-- and each PostgreSQL update writes a new version of the whole row, body included, and a new
-- entry in `outbox_unpublished`: two dead versions of every message until the next vacuum,
-- which the relay's lease stepped over and which made the server's CPU per order grow with
-- the run. Now a message's row is never updated on the way out: `outbox_waiting` holds the ids
-- the relay has yet to publish (and its lease), and a confirmed message's id is deleted from it.
-- A message is published when it is neither waiting nor parked. `published_at` is no longer
-- written (it stays on the rows published before this migration).
CREATE TABLE outbox_waiting (
    id                BIGINT PRIMARY KEY,
    relay_lease_until BIGINT
);
INSERT INTO outbox_waiting (id, relay_lease_until)
    SELECT id, relay_lease_until FROM outbox WHERE published_at IS NULL AND parked_at IS NULL;
DROP INDEX IF EXISTS outbox_unpublished;
-- A parked row was never published, so `parked_at` alone tells it.
DROP INDEX IF EXISTS outbox_parked;
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;
-- The pruner deletes by age, counted from when a row was written.
CREATE INDEX outbox_created ON outbox (created_at);
