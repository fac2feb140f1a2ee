-- Batch manifests (one per payout list), their declared lines, and the batch result once the
-- batch closed. Times are milliseconds since 1970 (UTC); amounts are whole đồng.

CREATE TABLE batches (
    batch_id     TEXT PRIMARY KEY,
    -- SHA-256 of the manifest's canonical JSON: same = duplicate, other = conflict.
    fingerprint  TEXT NOT NULL,
    program      TEXT NOT NULL,
    period       TEXT NOT NULL,
    commune_code TEXT NOT NULL,
    order_count  BIGINT NOT NULL,
    total_amount BIGINT NOT NULL,
    -- 1 when the manifest lists its orders (order id + amount), 0 when it only declares totals.
    has_lines    BIGINT NOT NULL,
    -- The manifest's own deadline; without one, batches.close_after_ms after received_at.
    deadline_at  BIGINT,
    created_at   BIGINT,
    received_at  BIGINT NOT NULL,
    -- open | balanced | unbalanced | expired
    status       TEXT NOT NULL,
    -- Differences found by the last check while open (logged when the number grows).
    differences  BIGINT NOT NULL DEFAULT 0,
    closed_at    BIGINT,
    -- The batch result as published (its body), kept to answer a duplicate manifest.
    result_json  TEXT
);
CREATE INDEX batches_status ON batches (status, received_at);

CREATE TABLE batch_lines (
    batch_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    amount   BIGINT NOT NULL,
    PRIMARY KEY (batch_id, order_id)
);

-- The batch check reads a batch's payments.
CREATE INDEX payments_batch ON payments (batch_id);
