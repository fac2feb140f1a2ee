-- The batch check counts and sums a batch's payments by state in SQL (GROUP BY state). With
-- the state and amount in the index, it reads the index alone, not every payment row of the
-- batch; the index still serves every lookup by batch_id, so it replaces payments_batch.
CREATE INDEX payments_batch_state ON payments (batch_id, state, amount);
DROP INDEX IF EXISTS payments_batch;
