//! `GET /ops/api/summary`: everything the dashboard page shows, as one JSON document built from
//! the store, the DLQ look, the provider metrics and the adapters' breakers. No personal data:
//! ids, channels, amounts, reason codes and the gateway's own (masked) reason sentences.

use serde::Serialize;

use super::batches::{self, Batches};
use super::dlq_look::DlqLook;
use super::provider_health::{self, ProviderHealth};
use super::DashboardState;
use crate::amqp::links::BrokerLinks;
use crate::payment::PaymentState;
use crate::store::{now_ms, PaymentFilter, StateChannelCount};

/// The document the page renders.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub generated_at: String,
    /// How often the page should ask again.
    pub refresh_ms: u64,
    pub payments: Payments,
    pub needs_review: NeedsReview,
    pub dlq: DlqLook,
    pub providers: Vec<ProviderHealth>,
    pub batches: Batches,
    /// Whether this gateway takes orders and sends results; the same as `/readyz/orders`.
    pub orders_side: OrdersSide,
}

/// This gateway's orders consumer and outbox relay, as `/readyz/orders` sees them.
#[derive(Clone, Debug, Serialize)]
pub struct OrdersSide {
    pub working: bool,
    /// What is not working, as a sentence; `None` when all is.
    pub why: Option<String>,
}

/// Live counts by state and channel.
#[derive(Clone, Debug, Serialize)]
pub struct Payments {
    /// Every state, in lifecycle order, so the page shows zero rows too.
    pub states: Vec<&'static str>,
    /// Channels that have payments, sorted.
    pub channels: Vec<String>,
    pub counts: Vec<StateChannelCount>,
    pub total: i64,
}

/// The payments waiting for a person, oldest in the state first.
#[derive(Clone, Debug, Serialize)]
pub struct NeedsReview {
    pub total: i64,
    pub total_amount: i64,
    pub shown: Vec<ReviewItem>,
}

/// One payment in `needs_review`.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewItem {
    pub order_id: String,
    pub payment_id: String,
    pub channel: String,
    pub provider: String,
    pub amount: i64,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// How long it has been in `needs_review`.
    pub age_ms: i64,
    /// Whether anything was ever sent to the provider.
    pub sent: bool,
}

/// Builds the summary; a store that does not answer is an error (the page says so).
///
/// Its parts are read side by side, all within one bound (`/readyz`'s: three quarters of the
/// listener's request timeout), so the answer goes out before the listener's 408 however slow
/// each part is: the payment counts and the review list (the store: not answering in time is
/// the 503 with the page's message), the DLQ look (a broker that does not answer is told as
/// such in `dlq.error`) and the batches (told in `batches.error`). Read one after the other,
/// each under a bound of its own, they added up past the request timeout, and the page got an
/// empty 408 on every refresh. A store reading or a batch check slower than the bound still
/// finishes and is kept for the next refresh (see `Reuse::get_within`).
pub async fn build(state: &DashboardState) -> Result<Summary, sqlx::Error> {
    let within = state.store_within;
    // A GROUP BY over every payment: one for every viewer per `batches.check_interval_ms`.
    let store = state.store.clone();
    let counts = state
        .counts
        .get_within(within, move || async move { store.count_by_state_and_channel().await });
    // Sorted by when each payment entered review and summed over all of them: during a
    // provider's outage tens of thousands of rows, so one reading for every viewer too.
    let in_review = PaymentFilter {
        state: PaymentState::NeedsReview,
        channel: None,
        batch_id: None,
        limit: state.settings.needs_review_limit,
    };
    let store = state.store.clone();
    let listing = state
        .review
        .get_within(within, move || async move { store.list_payments(&in_review).await });
    let (counts, listing, dlq, batches) = tokio::join!(
        counts,
        listing,
        state.dlq.look(within),
        batches::in_progress_within(&state.batches, &state.store, within)
    );
    let (counts, listing) = (answered(counts)?, answered(listing)?);
    let mut channels: Vec<String> = counts.iter().map(|count| count.channel.clone()).collect();
    channels.sort();
    channels.dedup();
    let now = now_ms();
    let shown = listing
        .payments
        .into_iter()
        .map(|payment| ReviewItem {
            age_ms: (now - payment.entered_state_at).max(0),
            sent: payment.submitted_at.is_some(),
            order_id: payment.order_id,
            payment_id: payment.payment_id,
            channel: payment.channel,
            provider: payment.provider,
            amount: payment.amount,
            reason_code: payment.reason_code,
            reason: payment.reason,
        })
        .collect();
    let mut providers: Vec<(String, Option<std::time::Duration>)> = state
        .adapters
        .iter()
        .map(|(key, adapter)| (key.clone(), adapter.unavailable_for()))
        .collect();
    providers.sort();
    let metrics = crate::http::health::metrics_handle().render();
    Ok(Summary {
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        refresh_ms: state.settings.refresh_ms,
        payments: Payments {
            states: PaymentState::ALL.iter().map(|state| state.as_str()).collect(),
            channels,
            total: counts.iter().map(|count| count.count).sum(),
            counts,
        },
        needs_review: NeedsReview {
            total: listing.total_count,
            total_amount: listing.total_amount,
            shown,
        },
        dlq,
        providers: provider_health::from_metrics(&metrics, &providers),
        batches,
        orders_side: OrdersSide::of(&state.readiness, &state.links),
    })
}

/// A store reading, or the store's "did not answer" (`/readyz`'s) when it did not come in time.
fn answered<T>(read: Option<Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    read.unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

impl OrdersSide {
    /// What `/readyz/orders` says of this gateway, the store apart (the figures are read from
    /// it, so a store that does not answer is the summary's 503): every part running (a
    /// dispatcher down stops the payouts while the broker links stay up), then the consumer and
    /// the relay connected.
    pub fn of(readiness: &crate::supervise::Readiness, links: &BrokerLinks) -> Self {
        match readiness.verdict().and_then(|()| links.verdict()) {
            Ok(()) => Self {
                working: true,
                why: None,
            },
            Err(why) => Self {
                working: false,
                why: Some(why),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::Readiness;

    /// The red line says what `/readyz/orders` says: with the broker links up, a dispatcher
    /// that is down (crash-looping, waiting up to a minute between starts) left the page saying
    /// all was working while the counts stood still.
    #[test]
    fn the_orders_side_is_down_while_a_part_is_down_though_the_broker_links_are_up() {
        let (readiness, links) = (Readiness::new(), BrokerLinks::new(&["consumer", "relay"]));
        readiness.mark_started();
        links.connected("consumer");
        links.connected("relay");
        assert!(OrdersSide::of(&readiness, &links).working);
        readiness.mark_down("dispatcher", "it panicked; starting again in 2000 ms".to_string());
        let side = OrdersSide::of(&readiness, &links);
        assert!(!side.working);
        assert!(side.why.is_some_and(|why| why.contains("dispatcher")), "names it");
        readiness.mark_up("dispatcher");
        links.lost("relay", "no broker connection");
        assert!(!OrdersSide::of(&readiness, &links).working);
    }
}
