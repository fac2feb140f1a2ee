//! Read-only views for operators: one order with its payment, events and results; payments
//! in one state (the `needs_review` queue), oldest first.

use sqlx::Row;

use super::payments::{PaymentRecord, PAYMENT_COLUMNS_WITH_ORDER};
use super::{state_column, Store};
use crate::payment::{PaymentState, ResultMessage};

/// A payment's event log, found through `payment_events_payment` by its `created_at` ($1) and
/// id ($2).
pub(super) const EVENTS_OF_PAYMENT: &str = "SELECT from_state, to_state, reason_code, detail, occurred_at \
     FROM payment_events WHERE payment_created_at = $1 AND payment_id = $2 ORDER BY id";

/// One line of a payment's event log.
#[derive(Clone, Debug)]
pub struct PaymentEvent {
    pub from_state: Option<String>,
    pub to_state: PaymentState,
    pub reason_code: Option<String>,
    pub detail: Option<String>,
    pub occurred_at: i64,
}

/// Which payments `list_payments` shows.
#[derive(Clone, Debug)]
pub struct PaymentFilter {
    pub state: PaymentState,
    /// A channel (`mobile_money`) or a provider key (`viettel_money`).
    pub channel: Option<String>,
    pub batch_id: Option<String>,
    /// Shows at most this many, oldest in the state first; the totals count them all.
    pub limit: i64,
}

/// One payment in a listing: ids, money and why it is where it is, no personal data.
#[derive(Clone, Debug)]
pub struct PaymentSummary {
    pub order_id: String,
    pub payment_id: String,
    pub channel: String,
    pub provider: String,
    pub amount: i64,
    pub state: PaymentState,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// When the payment last entered its state (from the event log; `updated_at` if none).
    pub entered_state_at: i64,
    /// `None` while nothing was ever sent to the provider.
    pub submitted_at: Option<i64>,
}

/// A page of payments and the totals of everything the filter matches.
#[derive(Clone, Debug)]
pub struct PaymentListing {
    pub payments: Vec<PaymentSummary>,
    pub total_count: i64,
    /// Whole đồng over every matching payment, not only the ones shown.
    pub total_amount: i64,
}

/// Everything the store knows about one order.
#[derive(Clone, Debug)]
pub struct OrderView {
    pub payment: PaymentRecord,
    pub events: Vec<PaymentEvent>,
    /// Result messages written for it, in order (published or not yet).
    pub results: Vec<ResultMessage>,
}

impl Store {
    /// The payments an id names: the payment with that payment id, or the order's payment.
    pub async fn payments_named(&self, order_or_payment_id: &str) -> Result<Vec<PaymentRecord>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS_WITH_ORDER} FROM payments WHERE order_id = $1 OR payment_id = $1 ORDER BY created_at"
        ))
        .bind(order_or_payment_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(PaymentRecord::from_row)
        .collect()
    }

    /// When order `order_id` was refused as invalid on arrival (before any payment was claimed
    /// for it), and the batch it named: `(rejected_at ms, batch id)`.
    pub async fn rejected_order(&self, order_id: &str) -> Result<Option<(i64, Option<String>)>, sqlx::Error> {
        sqlx::query("SELECT rejected_at, batch_id FROM rejected_orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| Ok((row.try_get("rejected_at")?, row.try_get("batch_id")?)))
            .transpose()
    }

    /// Looks an order up by upstream's order id (or by payment id).
    pub async fn order_view(&self, order_or_payment_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS_WITH_ORDER} FROM payments WHERE order_id = $1 OR payment_id = $1 ORDER BY created_at LIMIT 1"
        ))
        .bind(order_or_payment_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let payment = PaymentRecord::from_row(&row)?;
        let events = sqlx::query(EVENTS_OF_PAYMENT)
            .bind(payment.created_at)
            .bind(&payment.payment_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(PaymentEvent {
                    from_state: row.try_get("from_state")?,
                    to_state: state_column(row, "to_state")?,
                    reason_code: row.try_get("reason_code")?,
                    detail: row.try_get("detail")?,
                    occurred_at: row.try_get("occurred_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let results = sqlx::query(
            "SELECT body FROM outbox WHERE payment_created_at = $1 AND payment_id = $2 AND kind = 'result' ORDER BY id",
        )
        .bind(payment.created_at)
        .bind(&payment.payment_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .filter_map(|row| row.try_get::<Vec<u8>, _>("body").ok())
        .filter_map(|body| serde_json::from_slice(&body).ok())
        .collect();
        Ok(Some(OrderView {
            payment,
            events,
            results,
        }))
    }

    /// Payments in one state, optionally of one channel (or provider) and batch, oldest in
    /// the state first, with totals over all of them.
    pub async fn list_payments(&self, filter: &PaymentFilter) -> Result<PaymentListing, sqlx::Error> {
        let mut conditions = vec!["p.state = $1".to_string()];
        let mut values = vec![filter.state.as_str().to_string()];
        if let Some(channel) = &filter.channel {
            values.push(channel.clone());
            let n = values.len();
            conditions.push(format!("(p.channel = ${n} OR p.provider = ${n})"));
        }
        if let Some(batch_id) = &filter.batch_id {
            values.push(batch_id.clone());
            conditions.push(format!("p.batch_id = ${}", values.len()));
        }
        let conditions = conditions.join(" AND ");
        // The last event that moved the payment into its state; staying in a state (another
        // failed inquiry) does not count as entering it.
        let listing_sql = format!(
            "SELECT p.order_id, p.payment_id, p.channel, p.provider, p.amount, p.state, p.reason_code, p.reason, \
             p.submitted_at, COALESCE((SELECT MAX(e.occurred_at) FROM payment_events e WHERE e.payment_created_at = p.created_at \
             AND e.payment_id = p.payment_id AND e.to_state = p.state AND (e.from_state IS NULL OR e.from_state <> e.to_state)), p.updated_at) \
             AS entered_state_at FROM payments p WHERE {conditions} ORDER BY entered_state_at, p.payment_id LIMIT ${}",
            values.len() + 1
        );
        let mut listing = sqlx::query(&listing_sql);
        for value in &values {
            listing = listing.bind(value.clone());
        }
        let payments = listing
            .bind(filter.limit.max(0))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(PaymentSummary {
                    order_id: row.try_get("order_id")?,
                    payment_id: row.try_get("payment_id")?,
                    channel: row.try_get("channel")?,
                    provider: row.try_get("provider")?,
                    amount: row.try_get("amount")?,
                    state: state_column(row, "state")?,
                    reason_code: row.try_get("reason_code")?,
                    reason: row.try_get("reason")?,
                    entered_state_at: row.try_get("entered_state_at")?,
                    submitted_at: row.try_get("submitted_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        // PostgreSQL sums BIGINT as NUMERIC; the cast keeps one integer type on both backends.
        let totals_sql = format!(
            "SELECT COUNT(*) AS n, COALESCE(CAST(SUM(p.amount) AS BIGINT), 0) AS total FROM payments p WHERE {conditions}"
        );
        let mut totals = sqlx::query(&totals_sql);
        for value in &values {
            totals = totals.bind(value.clone());
        }
        let totals = totals.fetch_one(self.pool()).await?;
        Ok(PaymentListing {
            payments,
            total_count: totals.try_get("n")?,
            total_amount: totals.try_get("total")?,
        })
    }

    /// Payments per state, for progress displays and metrics.
    pub async fn count_by_state(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query("SELECT state, COUNT(*) AS n FROM payments GROUP BY state ORDER BY state")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("state")?, row.try_get("n")?)))
            .collect()
    }
}
