-- A payment's id is a hash of its idempotency key (`payment_id_for`), so the primary key
-- already refuses a second payment under one key: the unique index on `idempotency_key` held
-- nothing the primary key does not, yet every row version of a payment (its claim and each
-- state change, none of them heap-only) wrote an entry into it, one of the five indexes of
-- `payments`. A claim that conflicts now finds the payment that holds its key by the payment
-- id (src/store/intake.rs). SQLite keeps its index: dropping an inline constraint there means
-- rebuilding the table, and one index fewer was not seen in its runs (README, Performance).
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_idempotency_key_key;
