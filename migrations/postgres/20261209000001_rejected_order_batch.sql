-- The batch an order refused as invalid named, when it could be read from the body. A manifest
-- with lines finds its invalid orders by their order ids; a manifest without lines has only
-- the batch id to find them by, and without it such a batch could never count its invalid
-- orders as final: it waited for its deadline (a week) and closed with them "missing".
ALTER TABLE rejected_orders ADD COLUMN batch_id TEXT;
CREATE INDEX rejected_orders_batch ON rejected_orders (batch_id) WHERE batch_id IS NOT NULL;
