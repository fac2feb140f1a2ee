-- A message the broker will not take (after `amqp.outbox_publish_attempts` tries) is parked:
-- the relay skips it, so it never holds up the messages behind it, and ops see it with its
-- reason. Parked rows are never pruned.
ALTER TABLE outbox ADD COLUMN publish_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN parked_at BIGINT;
ALTER TABLE outbox ADD COLUMN park_reason TEXT;
CREATE INDEX outbox_parked ON outbox (parked_at);

-- Pruning deletes remembered callback ids by age.
CREATE INDEX callback_events_received ON callback_events (received_at);
