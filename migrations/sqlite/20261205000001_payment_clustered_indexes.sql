-- The event log and the outbox were looked up by payment through indexes on (payment_id, id).
-- A payment id is a hash, so every new line landed on a random page of those indexes: in a
-- busy batch nearly every line dirtied a page of its own, which the commit then wrote to disk
-- (SQLite's WAL, PostgreSQL's WAL). Lines now carry their payment's `created_at` and the
-- indexes lead with it: the payments being worked on were claimed lately, so their lines land
-- together at the end of the index. A lookup by payment reads `created_at` from its row first.
ALTER TABLE payment_events ADD COLUMN payment_created_at BIGINT;
UPDATE payment_events SET payment_created_at =
    (SELECT p.created_at FROM payments p WHERE p.payment_id = payment_events.payment_id);
DROP INDEX IF EXISTS payment_events_payment;
CREATE INDEX payment_events_payment ON payment_events (payment_created_at, payment_id, id);

ALTER TABLE outbox ADD COLUMN payment_created_at BIGINT;
UPDATE outbox SET payment_created_at =
    (SELECT p.created_at FROM payments p WHERE p.payment_id = outbox.payment_id)
    WHERE payment_id IS NOT NULL;
DROP INDEX IF EXISTS outbox_payment;
CREATE INDEX outbox_payment ON outbox (payment_created_at, payment_id, id);
