//! Read-only views for operators: one order with its payment, events and results.

use sqlx::Row;

use super::payments::{PaymentRecord, PAYMENT_COLUMNS};
use super::{state_column, Store};
use crate::payment::{PaymentState, ResultMessage};

/// One line of a payment's event log.
#[derive(Clone, Debug)]
pub struct PaymentEvent {
    pub from_state: Option<String>,
    pub to_state: PaymentState,
    pub reason_code: Option<String>,
    pub detail: Option<String>,
    pub occurred_at: i64,
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
    /// Looks an order up by upstream's order id (or by payment id).
    pub async fn order_view(&self, order_or_payment_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 OR payment_id = $1 ORDER BY created_at LIMIT 1"
        ))
        .bind(order_or_payment_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let payment = PaymentRecord::from_row(&row)?;
        let events = sqlx::query(
            "SELECT from_state, to_state, reason_code, detail, occurred_at FROM payment_events \
             WHERE payment_id = $1 ORDER BY id",
        )
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
        let results = sqlx::query("SELECT body FROM outbox WHERE payment_id = $1 AND kind = 'result' ORDER BY id")
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
