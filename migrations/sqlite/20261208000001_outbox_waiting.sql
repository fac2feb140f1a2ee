-- The outbox is only appended to; what waits for the relay is a narrow table of its own.
-- An outbox row was written once and updated twice (the relay's lease, then `published_at`):
-- each update rewrote the message's page, body included, and moved its entry in
-- `outbox_unpublished`. Now a message's row is never updated on the way out: `outbox_waiting`
-- holds the ids the relay has yet to publish (and its lease), and a confirmed message's id is
-- deleted from it. A message is published when it is neither waiting nor parked.
-- `published_at` is no longer written (it stays on the rows published before this migration).
CREATE TABLE outbox_waiting (
    id                INTEGER PRIMARY KEY,
    relay_lease_until BIGINT
);
INSERT INTO outbox_waiting (id, relay_lease_until)
    SELECT id, relay_lease_until FROM outbox WHERE published_at IS NULL AND parked_at IS NULL;
-- Every message written waits for the relay. On PostgreSQL the gateway's insert writes both
-- rows in one statement (`WITH … INSERT … RETURNING`), which SQLite has no form of; here the
-- trigger does it, inside the same statement, without a second round trip to the database.
CREATE TRIGGER outbox_waits AFTER INSERT ON outbox
BEGIN
    INSERT INTO outbox_waiting (id) VALUES (NEW.id);
END;
DROP INDEX IF EXISTS outbox_unpublished;
-- A parked row was never published, so `parked_at` alone tells it.
DROP INDEX IF EXISTS outbox_parked;
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;
-- The pruner deletes by age, counted from when a row was written.
CREATE INDEX outbox_created ON outbox (created_at);
