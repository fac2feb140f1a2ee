//! Intake: one delivered order becomes a claimed payment, a duplicate, a conflict or a rejection.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::DuplicatePaymentPolicy;
use crate::order::{parse_order, ChannelLimits};
use crate::store::{ClaimOutcome, Rejection, Store, StoredProperties};

/// Everything the consumer needs to take an order in.
pub struct Intake {
    pub store: Store,
    pub limits: ChannelLimits,
    pub duplicate_payment_policy: DuplicatePaymentPolicy,
    /// Wakes the dispatcher when a new payment is ready to send.
    pub dispatcher_wake: Arc<Notify>,
    /// Wakes the relay when the outbox has something to publish.
    pub relay_wake: Arc<Notify>,
}

impl Intake {
    /// Validates and stores one order. Returns only after the store committed, so the
    /// caller may ack; an error means nothing was stored and the order must be redelivered.
    pub async fn take(&self, body: &[u8], properties: &StoredProperties) -> Result<(), sqlx::Error> {
        match parse_order(body, &self.limits) {
            Err(invalid) => {
                let (order_id, channel) = hints(body, properties);
                metrics::counter!("gateway_orders_total", "outcome" => "rejected").increment(1);
                tracing::info!(order_id = %order_id, code = invalid.code, reason = %invalid.message, "Rejected an invalid order.");
                self.store
                    .reject(
                        &Rejection {
                            order_id,
                            channel,
                            invalid: &invalid,
                        },
                        body,
                        properties,
                    )
                    .await?;
            }
            Ok(order) => {
                let outcome = self
                    .store
                    .claim(&order, body, properties, self.duplicate_payment_policy)
                    .await?;
                match &outcome {
                    ClaimOutcome::Claimed { payment_id, state } => {
                        metrics::counter!("gateway_orders_total", "outcome" => "claimed").increment(1);
                        tracing::debug!(order_id = %order.order_id.as_str(), %payment_id, %state, "Claimed an order.");
                        self.dispatcher_wake.notify_one();
                    }
                    ClaimOutcome::Duplicate { payment_id } => {
                        metrics::counter!("gateway_orders_total", "outcome" => "duplicate").increment(1);
                        tracing::info!(order_id = %order.order_id.as_str(), %payment_id, "A duplicate delivery; answered with the latest result.");
                    }
                    ClaimOutcome::Conflict { payment_id } => {
                        metrics::counter!("gateway_orders_total", "outcome" => "conflict").increment(1);
                        tracing::warn!(order_id = %order.order_id.as_str(), %payment_id, "An idempotency key was reused for a different payload; dead-lettered.");
                    }
                }
            }
        }
        self.relay_wake.notify_one();
        Ok(())
    }
}

/// The order id and channel of an invalid order, as far as they can be read, so the
/// `rejected` result can still name them.
fn hints(body: &[u8], properties: &StoredProperties) -> (String, Option<String>) {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(|s| s.chars().take(64).collect::<String>())
    };
    let order_id = field("order_id")
        .or_else(|| properties.message_id.clone())
        .unwrap_or_default();
    (
        order_id,
        field("channel").filter(|c| gateway_adapter::Channel::parse(c).is_some()),
    )
}
