-- Payments, their event log, the beneficiary guard, the outbox and seen callbacks (SQLite).
-- Times are milliseconds since 1970 (UTC); amounts are whole đồng.

CREATE TABLE payments (
    payment_id      TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    channel         TEXT NOT NULL,
    provider        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    batch_id        TEXT NOT NULL,
    commune_code    TEXT NOT NULL,
    order_json      TEXT NOT NULL,
    raw_message     BLOB NOT NULL,
    raw_properties  TEXT NOT NULL,
    state           TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 0,
    seq             BIGINT NOT NULL DEFAULT 0,
    attempts        BIGINT NOT NULL DEFAULT 0,
    inquiries       BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    provider_ref    TEXT,
    reason_code     TEXT,
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX payments_due ON payments (next_attempt_at);
CREATE INDEX payments_order ON payments (order_id);

CREATE TABLE beneficiary_periods (
    beneficiary_id TEXT NOT NULL,
    program        TEXT NOT NULL,
    period         TEXT NOT NULL,
    payment_type   TEXT NOT NULL,
    payment_id     TEXT NOT NULL,
    PRIMARY KEY (beneficiary_id, program, period, payment_type)
);

CREATE TABLE payment_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id  TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason_code TEXT,
    detail      TEXT,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payment_id   TEXT,
    routing_key  TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX outbox_unpublished ON outbox (published_at, id);
CREATE INDEX outbox_payment ON outbox (payment_id, id);

CREATE TABLE callback_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
