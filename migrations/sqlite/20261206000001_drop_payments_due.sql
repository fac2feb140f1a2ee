-- Every lease of due payments names its provider and reads `payments_provider_due`
-- (provider, next_attempt_at); no query reads `payments_due` (next_attempt_at) any more, yet
-- every state change moved the payment's entry in it. Dropping it cut the gateway's disk
-- writes by 5% and raised throughput by 5% (20,000 orders, SQLite, interleaved runs).
DROP INDEX IF EXISTS payments_due;
