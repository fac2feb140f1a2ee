//! Provider callbacks: remembered by event id and applied in the same transaction, so a
//! replayed callback never changes anything twice and a crash never half-applies one.

use sqlx::Row;

use super::payments::{apply_in, record_event, PaymentRecord, PAYMENT_COLUMNS};
use super::{now_ms, Store};
use crate::payment::PaymentState;

/// What a verified callback does to a payment, as the callback handler decides it.
#[derive(Clone, Debug)]
pub enum CallbackDecision {
    /// Move the payment.
    Apply(super::Change),
    /// Nothing new (a duplicate status, a pending report on a pending payment).
    Ignore,
    /// It contradicts a final payment: the payment stays, the contradiction is written to its
    /// event log for a person to follow up.
    Flag(String),
}

/// What became of a verified callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The payment moved to this state.
    Applied(PaymentState),
    /// The event id was seen before: nothing changed.
    Duplicate,
    /// No payment has this id.
    UnknownPayment,
    /// Recorded, but it changes nothing (already final, or nothing new).
    Ignored(PaymentState),
}

impl Store {
    /// Records callback `event_id` from `provider` and applies what `decide` makes of the
    /// payment, in one transaction. Retries a few times if a dispatcher worker moved the
    /// payment at the same moment.
    pub async fn apply_callback<F>(
        &self,
        provider: &str,
        event_id: &str,
        payment_id: &str,
        decide: F,
    ) -> Result<CallbackOutcome, sqlx::Error>
    where
        F: Fn(&PaymentRecord) -> CallbackDecision,
    {
        for _ in 0..5 {
            let mut transaction = self.pool().begin().await?;
            let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"))
                .bind(payment_id)
                .fetch_optional(&mut *transaction)
                .await?;
            let Some(row) = row else {
                return Ok(CallbackOutcome::UnknownPayment);
            };
            let record = PaymentRecord::from_row(&row)?;
            // A provider speaks only for its own payments: a validly signed callback from
            // one provider can never settle a payment sent through another.
            if record.provider != provider {
                metrics::counter!("gateway_callbacks_for_another_provider_total").increment(1);
                return Ok(CallbackOutcome::UnknownPayment);
            }
            let fresh = sqlx::query(
                "INSERT INTO callback_events (provider, event_id, payment_id, received_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(provider)
            .bind(event_id)
            .bind(payment_id)
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
            if fresh.rows_affected() == 0 {
                return Ok(CallbackOutcome::Duplicate);
            }
            let change = match decide(&record) {
                CallbackDecision::Apply(change) => change,
                CallbackDecision::Ignore => {
                    transaction.commit().await?;
                    return Ok(CallbackOutcome::Ignored(record.state));
                }
                CallbackDecision::Flag(detail) => {
                    // A final payment never changes, but the contradiction stays on its record.
                    record_event(
                        &mut transaction,
                        payment_id,
                        Some(record.state),
                        record.state,
                        Some("callback_contradicts_final"),
                        &detail,
                    )
                    .await?;
                    transaction.commit().await?;
                    return Ok(CallbackOutcome::Ignored(record.state));
                }
            };
            let to = change.to;
            if apply_in(&mut transaction, &record, change).await?.is_some() {
                transaction.commit().await?;
                return Ok(CallbackOutcome::Applied(to));
            }
            // Someone moved the payment between our read and our write: read again.
            transaction.rollback().await?;
        }
        Err(sqlx::Error::Protocol(format!(
            "payment {payment_id} kept changing while a callback was applied"
        )))
    }

    /// How many callbacks were recorded for a payment (tests and `orders show`).
    pub async fn callback_count(&self, payment_id: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM callback_events WHERE payment_id = $1")
            .bind(payment_id)
            .fetch_one(self.pool())
            .await?;
        row.try_get("n")
    }
}
