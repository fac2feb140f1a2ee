-- Statement entries that reconciliation applied (today: payouts the provider returned), keyed
-- by the provider and the statement line's own reference, so that reconciling the same
-- statement twice changes nothing the second time. A payment is returned at most once.
CREATE TABLE reconciliation_items (
    provider    TEXT NOT NULL,
    entry_ref   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    reason_code TEXT,
    booked_on   TEXT NOT NULL,
    applied_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, entry_ref)
);
CREATE UNIQUE INDEX reconciliation_items_payment ON reconciliation_items (payment_id, kind);
