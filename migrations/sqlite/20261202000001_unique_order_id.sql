-- An order id names one payment: results are identified upstream by `<order_id>:<seq>`, so a
-- second payment under the same order id (another idempotency key) is refused as a conflict.
DROP INDEX IF EXISTS payments_order;
CREATE UNIQUE INDEX payments_order_id_unique ON payments (order_id);
