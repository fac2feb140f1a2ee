//! Intake: one delivered order becomes a claimed payment, a duplicate, a conflict or a rejection.

use std::sync::Arc;

use tokio::sync::Notify;

use gateway_adapter::Invalid;

use crate::config::{DuplicatePaymentPolicy, Settings};
use crate::dispatcher::ProviderWakes;
use crate::order::{parse_order, ChannelLimits, PaymentOrder, MAX_ID_LEN, MAX_ORDER_BYTES};
use crate::providers::Routing;
use crate::store::{ClaimOutcome, Rejection, Store, StoreError, StoredProperties};

fn into_intake_error(error: StoreError) -> IntakeError {
    match error {
        StoreError::Unavailable(_) => IntakeError::StoreUnavailable(error),
        StoreError::Unstorable(_) => IntakeError::Unstorable(error),
    }
}

/// Everything the consumer needs to take an order in.
pub struct Intake {
    pub store: Store,
    pub limits: ChannelLimits,
    pub duplicate_payment_policy: DuplicatePaymentPolicy,
    /// Which provider pays each order; chosen here, once, and stored with the payment.
    pub routing: Arc<Routing>,
    /// Wakes the dispatcher's loop of a new payment's provider, so it is sent at once.
    pub dispatcher_wakes: ProviderWakes,
    /// Wakes the relay when the outbox has something to publish.
    pub relay_wake: Arc<Notify>,
}

/// Why an order could not be taken in; the consumer acts on the kind.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The store is down: put the order back and pause until the store answers.
    #[error(transparent)]
    StoreUnavailable(StoreError),
    /// The store refuses this message even as a rejection: the broker dead-letters it.
    #[error("the store refuses even the rejection of this message: {0}")]
    Unstorable(StoreError),
}

impl Intake {
    /// The intake `settings` describe, on `store`, waking the dispatcher and the relay.
    pub fn new(
        store: Store,
        settings: &Settings,
        dispatcher_wakes: ProviderWakes,
        relay_wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            limits: settings.limits.clone(),
            duplicate_payment_policy: settings.dispatcher.duplicate_payment_policy,
            routing: Arc::new(settings.routing_table()?),
            dispatcher_wakes,
            relay_wake,
        })
    }

    /// Validates and stores one order. Returns only after the store committed, so the
    /// caller may ack; an error means nothing was stored.
    pub async fn take(&self, body: &[u8], properties: &StoredProperties) -> Result<(), IntakeError> {
        // A batch manifest (`"kind": "batch_manifest"`) shares the queue; see `crate::batch`.
        if crate::batch::is_manifest(body) {
            return self.take_manifest(body, properties).await;
        }
        let routed = match parse_order(body, &self.limits) {
            Err(invalid) => Err(invalid),
            Ok(order) => self.routed(order).await.map_err(into_intake_error)?,
        };
        let taken = match routed {
            Err(invalid) => self.reject(body, properties, &invalid).await,
            Ok((order, provider)) => match self.claim(&order, provider, body, properties).await {
                // A valid order whose data the store refuses is rejected with a reason, so it
                // does not loop until the broker's delivery limit.
                Err(StoreError::Unstorable(error)) => {
                    tracing::error!(order_id = %order.order_id.as_str(), error = %error, "The store refuses a valid order; it is rejected.");
                    let invalid = Invalid::new(
                        "unstorable_order",
                        "the gateway's store refuses this order's data; nothing was paid, check the order",
                    );
                    self.reject(body, properties, &invalid).await
                }
                other => other,
            },
        };
        self.relay_wake.notify_one();
        taken.map_err(into_intake_error)
    }

    /// The order with the provider that pays it, or the refusal `provider_not_configured`
    /// when no configured provider does: claimed, it would wait for good, since the dispatcher
    /// steps configured providers only. An order already claimed (a redelivery, upstream
    /// sending it again, while its provider's section is gone), or one whose idempotency key
    /// another order took, goes on to its claim, which answers it as a duplicate with its latest
    /// result, or as a conflict, as any other.
    async fn routed(&self, order: PaymentOrder) -> Result<Result<(PaymentOrder, &str), Invalid>, StoreError> {
        if let Some(provider) = self.routing.provider_for(&order.destination) {
            return Ok(Ok((order, provider)));
        }
        if self.store.order_claimed(&order).await? {
            let provider = self.routing.provider_key_for(&order.destination);
            return Ok(Ok((order, provider)));
        }
        Ok(Err(Invalid::new(
            "provider_not_configured",
            "no provider configured in this gateway pays this destination (its wallet provider, VNPost, or any bank); nothing was paid",
        )))
    }

    async fn claim(
        &self,
        order: &PaymentOrder,
        provider: &str,
        body: &[u8],
        properties: &StoredProperties,
    ) -> Result<(), StoreError> {
        let outcome = self
            .store
            .claim(order, provider, body, properties, self.duplicate_payment_policy)
            .await?;
        match &outcome {
            ClaimOutcome::Claimed { payment_id, state } => {
                metrics::counter!("gateway_orders_total", "outcome" => "claimed").increment(1);
                tracing::debug!(order_id = %order.order_id.as_str(), %payment_id, %state, "Claimed an order.");
                self.dispatcher_wakes.wake(provider);
            }
            ClaimOutcome::Duplicate { payment_id } => {
                metrics::counter!("gateway_orders_total", "outcome" => "duplicate").increment(1);
                tracing::info!(order_id = %order.order_id.as_str(), %payment_id, "A duplicate delivery; answered with the latest result.");
            }
            ClaimOutcome::Conflict { payment_id } => {
                metrics::counter!("gateway_orders_total", "outcome" => "conflict").increment(1);
                tracing::warn!(order_id = %order.order_id.as_str(), %payment_id, "An idempotency key or order id was reused for a different order; dead-lettered.");
            }
        }
        Ok(())
    }

    /// Records a `rejected` result and a dead letter `invalid`. A body over the size limit is
    /// not read past the limit: its id comes from the AMQP `message_id`, and the dead letter
    /// keeps its first [`MAX_ORDER_BYTES`] bytes (header `x-gateway-original-bytes` says how
    /// many there were). If the store refuses the order id read from the body (a NUL byte in
    /// PostgreSQL text, say), the rejection is stored once more without it.
    async fn reject(&self, body: &[u8], properties: &StoredProperties, invalid: &Invalid) -> Result<(), StoreError> {
        let oversized = body.len() > MAX_ORDER_BYTES;
        let (kept, properties) = if oversized {
            let mut properties = properties.clone();
            properties
                .headers
                .insert(crate::dlq::ORIGINAL_BYTES_HEADER.to_string(), body.len().to_string());
            (&body[..MAX_ORDER_BYTES], properties)
        } else {
            (body, properties.clone())
        };
        let Hints {
            order_id,
            channel,
            batch_id,
        } = if oversized {
            Hints {
                order_id: message_id_hint(&properties),
                channel: None,
                batch_id: None,
            }
        } else {
            hints(body, &properties)
        };
        tracing::info!(order_id = %order_id.escape_debug(), code = invalid.code, reason = %invalid.message, "Rejected an invalid order.");
        let rejection = Rejection {
            order_id,
            channel,
            batch_id,
            invalid,
        };
        let stored = match self.store.reject(&rejection, kept, &properties).await {
            Err(StoreError::Unstorable(error)) => {
                tracing::warn!(error = %error, "The store refused a rejection; storing it without the order id read from the message.");
                let bare = Rejection {
                    order_id: String::new(),
                    channel: None,
                    batch_id: None,
                    invalid,
                };
                let mut properties = properties;
                properties.message_id = None;
                properties.correlation_id = None;
                self.store.reject(&bare, kept, &properties).await
            }
            other => other,
        };
        // Counted once it is written, as claims are: a store that is away has the message
        // redelivered, and each delivery would have counted again.
        if stored.is_ok() {
            metrics::counter!("gateway_orders_total", "outcome" => "rejected").increment(1);
        }
        stored
    }
}

/// What an invalid order says of itself, as far as it can be read.
struct Hints {
    order_id: String,
    channel: Option<String>,
    /// The batch it names, so that a manifest without lines can count it (cut like an id).
    batch_id: Option<String>,
}

/// The order id, channel and batch of an invalid order, as far as they can be read, so the
/// `rejected` result can still name them and its batch can count it. Only called on bodies
/// within the size limit.
fn hints(body: &[u8], properties: &StoredProperties) -> Hints {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(bounded_id)
    };
    Hints {
        order_id: field("order_id").unwrap_or_else(|| message_id_hint(properties)),
        channel: field("channel").filter(|c| gateway_adapter::Channel::parse(c).is_some()),
        // A message with a top-level `kind` is no order (an order has no such field): a
        // manifest whose `kind` is misspelt, say. It names no batch, or its batch counted it
        // as one of its orders refused, and could close early on it, unbalanced.
        batch_id: field("batch_id")
            .filter(|batch_id| !batch_id.is_empty())
            .filter(|_| value.as_ref().and_then(|v| v.get("kind")).is_none()),
    }
}

fn message_id_hint(properties: &StoredProperties) -> String {
    properties.message_id.as_deref().map(bounded_id).unwrap_or_default()
}

/// An id read from an invalid message, fit to name it in a result: control characters (NUL
/// included) written as escapes, kept whole up to [`MAX_ID_LEN`] characters (a valid id has at
/// most that many), and one longer cut to end in `~` and 16 hex digits of its SHA-256, within
/// that length. Neither an escape nor `~` is in a valid id, so the rejection of an invalid id
/// never names a valid order (cut to its first 64 characters, it did, and that order's results
/// then continued after a rejection it never had).
pub(crate) fn bounded_id(raw: &str) -> String {
    let escaped: String = raw
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if escaped.chars().count() <= MAX_ID_LEN {
        return escaped;
    }
    let suffix = crate::store::hash_suffix(raw);
    let kept: String = escaped.chars().take(MAX_ID_LEN - suffix.len()).collect();
    format!("{kept}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_read_from_an_invalid_message_is_bounded_and_has_no_control_characters() {
        assert_eq!(bounded_id("TB-1\0x"), "TB-1\\u{0}x");
        // A short id of any characters is kept whole; a long one is cut within the length.
        assert_eq!(bounded_id(&"😀".repeat(MAX_ID_LEN)), "😀".repeat(MAX_ID_LEN));
        assert_eq!(bounded_id(&"😀".repeat(100)).chars().count(), MAX_ID_LEN);
        // One character too long: cut, and told apart from the valid id it starts with.
        let valid = "A".repeat(MAX_ID_LEN);
        let too_long = bounded_id(&format!("{valid}Z"));
        assert_eq!(too_long.chars().count(), MAX_ID_LEN);
        assert_ne!(too_long, valid);
        assert!(too_long.contains('~'), "{too_long}");
        assert_ne!(too_long, bounded_id(&format!("{valid}Y")));
    }
}
