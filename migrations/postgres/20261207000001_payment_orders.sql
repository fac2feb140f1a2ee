-- The order as it was claimed — its validated JSON and the message's bytes and properties, about
-- 1 KB of a 1.25 KB payment row — moves to a table of its own, written once at the claim and
-- read when the payment is leased for a call, dead-lettered or reported. Every state change
-- rewrites its payment's row (SQLite writes the whole page of a changed row to the WAL; each
-- PostgreSQL update writes a new version of the whole row), so a narrow row puts five times
-- as many payments on a page and leaves the order bytes out of every later write.
-- Keyed by (created_at, payment_id) like the event log and the outbox: claims append at the
-- end of the key, and the payments leased together sit together.
CREATE TABLE payment_orders (
    created_at     BIGINT NOT NULL,
    payment_id     TEXT NOT NULL,
    order_json     TEXT NOT NULL,
    raw_message    BYTEA NOT NULL,
    raw_properties TEXT NOT NULL,
    PRIMARY KEY (created_at, payment_id)
);
INSERT INTO payment_orders (created_at, payment_id, order_json, raw_message, raw_properties)
    SELECT created_at, payment_id, order_json, raw_message, raw_properties FROM payments;
ALTER TABLE payments DROP COLUMN order_json, DROP COLUMN raw_message, DROP COLUMN raw_properties;
