-- Order ids that were answered with a final `rejected` result (seq 1) before any payment was
-- claimed for them. A corrected order sent later under the same order id supersedes the
-- rejection, and its results continue from seq 2, so no two result messages share an id.
CREATE TABLE rejected_orders (
    order_id    TEXT PRIMARY KEY,
    rejected_at BIGINT NOT NULL
);
