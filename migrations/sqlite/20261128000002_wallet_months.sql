-- Running totals per wallet and calendar month, for the per-wallet monthly limit.
-- A reservation is taken before a payment is first sent; reservations of payments that
-- ended failed or rejected no longer count.

CREATE TABLE wallet_months (
    provider TEXT NOT NULL,
    msisdn   TEXT NOT NULL,
    month    TEXT NOT NULL,
    checks   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, msisdn, month)
);

CREATE TABLE wallet_reservations (
    payment_id TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    msisdn     TEXT NOT NULL,
    month      TEXT NOT NULL,
    amount     BIGINT NOT NULL
);
CREATE INDEX wallet_reservations_wallet ON wallet_reservations (provider, msisdn, month);
