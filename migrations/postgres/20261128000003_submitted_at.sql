-- When the payment was first handed to the provider (the first `submitting`). Once set, a
-- retry never redoes the pre-send checks, and running out of attempts is resolved by an
-- inquiry and review, never by failing a payment that may have been booked.
ALTER TABLE payments ADD COLUMN submitted_at BIGINT;
CREATE INDEX payments_provider_due ON payments (provider, next_attempt_at);
