-- `outbox_parked` on (parked_at) had an entry for every outbox row, so every insert and every
-- mark as published also updated it, while only parked rows are ever looked up through it
-- (and a planner could take it for the relay's `parked_at IS NULL`, which every row matches).
-- It now holds only the parked rows; the relay's lease reads `outbox_unpublished`.
DROP INDEX IF EXISTS outbox_parked;
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL AND published_at IS NULL;
