//! Provider callbacks: remembered by event id and applied in the same transaction, so a
//! replayed callback never changes anything twice and a crash never half-applies one.

use std::collections::HashSet;

use sqlx::{AnyConnection, Row};

use super::appends::Appends;
use super::multi_row::rows_returning;
use super::outbox::insert_result;
use super::payments::{apply_in, dead_letter_payment, record_event, PaymentRecord, PAYMENT_COLUMNS};
use super::{now_ms, Store, StoreError};
use crate::payment::{PaymentState, ResultStatus};

/// What a verified callback does to a payment, as the callback handler decides it.
#[derive(Clone, Debug)]
pub enum CallbackDecision {
    /// Move the payment.
    Apply(super::Change),
    /// Nothing new (a duplicate status, a pending report on a pending payment).
    Ignore,
    /// It adds nothing to a final payment but is odd (a repeat without the amount, a pending
    /// report): the payment stays, the note is written to its event log.
    Flag(String),
    /// It reverses a final payment (failed or returned after succeeded, succeeded after
    /// failed, another amount): the payment stays final, but upstream gets a non-final
    /// `needs_review` result (`callback_contradicts_final`, next `seq`) and ops a dead letter
    /// `contradiction`, so that people act on it.
    Reverse(String),
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
    /// The payment was sent through another provider, which alone speaks for it: refused as
    /// if unknown.
    ForAnotherProvider,
    /// Recorded, but it changes nothing (already final, or nothing new).
    Ignored(PaymentState),
    /// It contradicts a final payment, which stays as it is; upstream and ops were told.
    Reversal(PaymentState),
}

impl Store {
    /// Records callback `event_id` from `provider` and applies what `decide` makes of the
    /// payment, in one unit of the group commit. Reads again (a few times) if a dispatcher
    /// worker moved the payment at the same moment.
    pub async fn apply_callback<F>(
        &self,
        provider: &str,
        event_id: &str,
        payment_id: &str,
        decide: F,
    ) -> Result<CallbackOutcome, StoreError>
    where
        F: Fn(&PaymentRecord) -> CallbackDecision + Send + Sync + 'static,
    {
        let pending = PendingCallback {
            provider: provider.to_string(),
            event_id: event_id.to_string(),
            payment_id: payment_id.to_string(),
            decide: std::sync::Arc::new(decide),
            outcome: None,
            left_alone: None,
        };
        let outcome = self.writer.submit(payment_id, pending).await?;
        tell_ops(&outcome, provider, payment_id);
        Ok(outcome)
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

/// What a callback does to the payment it names, as the handler decides it from the record.
pub(super) type Decide = std::sync::Arc<dyn Fn(&PaymentRecord) -> CallbackDecision + Send + Sync>;

/// A verified callback waiting in the group commit (see [`Store::apply_callback`]).
pub(super) struct PendingCallback {
    pub provider: String,
    pub event_id: String,
    pub payment_id: String,
    pub decide: Decide,
    /// Set by [`changes_together`](super::together) or [`PendingCallback::run`].
    pub outcome: Option<CallbackOutcome>,
    /// Why writing together left it to be written on its own, if it did (counted in
    /// `gateway_store_callbacks_alone_total` once that pass commits).
    pub left_alone: Option<&'static str>,
}

impl PendingCallback {
    /// Records and applies the callback on its own.
    pub async fn run(&mut self, transaction: &mut AnyConnection, appends: &mut Appends) -> Result<(), sqlx::Error> {
        let outcome = apply_callback_in(
            transaction,
            appends,
            &self.provider,
            &self.event_id,
            &self.payment_id,
            &*self.decide,
        )
        .await?;
        self.outcome = Some(outcome);
        Ok(())
    }
}

/// Remembers each callback's event id in one multi-row insert; returns the ones that were new,
/// each with the payment it was remembered for (an event id twice in the batch, for two
/// payments, is remembered for one of them only).
pub(super) async fn remember_callbacks(
    transaction: &mut AnyConnection,
    callbacks: &[&PendingCallback],
) -> Result<HashSet<(String, String, String)>, sqlx::Error> {
    let now = now_ms();
    let fresh = rows_returning(
        transaction,
        "INSERT INTO callback_events (provider, event_id, payment_id, received_at) VALUES ",
        "($1, $2, $3, $4)",
        " ON CONFLICT DO NOTHING RETURNING provider, event_id, payment_id",
        callbacks,
        |query, callback| {
            query
                .bind(callback.provider.as_str())
                .bind(callback.event_id.as_str())
                .bind(callback.payment_id.as_str())
                .bind(now)
        },
    )
    .await?;
    fresh
        .iter()
        .map(|row| {
            Ok((
                row.try_get("provider")?,
                row.try_get("event_id")?,
                row.try_get("payment_id")?,
            ))
        })
        .collect()
}

/// Forgets a callback's event id, so that it can be recorded again (by the callback on its own,
/// after it lost a compare-and-set).
pub(super) async fn forget_callback(
    transaction: &mut AnyConnection,
    provider: &str,
    event_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM callback_events WHERE provider = $1 AND event_id = $2")
        .bind(provider)
        .bind(event_id)
        .execute(&mut *transaction)
        .await?;
    Ok(())
}

/// What a new callback's decision on `record` needs besides the compare-and-set: a change is
/// returned, to be written; nothing new or a note in the event log settles the callback here;
/// a reversal does neither (it is written on its own).
pub(super) fn decide_fresh(
    appends: &mut Appends,
    callback: &mut PendingCallback,
    record: &PaymentRecord,
) -> Option<super::Change> {
    match (callback.decide)(record) {
        CallbackDecision::Apply(change) => Some(change),
        CallbackDecision::Ignore => {
            callback.outcome = Some(CallbackOutcome::Ignored(record.state));
            None
        }
        CallbackDecision::Flag(detail) => {
            callback.outcome = Some(flag(appends, record, &detail));
            None
        }
        CallbackDecision::Reverse(_) => None,
    }
}

/// Writes a callback's note on a final payment, which does not change.
fn flag(appends: &mut Appends, record: &PaymentRecord, detail: &str) -> CallbackOutcome {
    record_event(
        appends,
        record,
        Some(record.state),
        record.state,
        Some("callback_contradicts_final"),
        detail,
    );
    CallbackOutcome::Ignored(record.state)
}

/// Counts and logs what ops must hear of a committed callback. Here, after the commit, and
/// not inside the write: a batch that falls back to savepoints runs its writes twice, and so
/// would count them twice.
fn tell_ops(outcome: &CallbackOutcome, provider: &str, payment_id: &str) {
    match outcome {
        CallbackOutcome::ForAnotherProvider => {
            metrics::counter!("gateway_callbacks_for_another_provider_total").increment(1);
        }
        CallbackOutcome::Reversal(state) => {
            metrics::counter!("gateway_callbacks_contradicting_final_total").increment(1);
            tracing::error!(provider, payment_id, %state, "A verified callback reverses a final payment; upstream and ops are told.");
        }
        _ => {}
    }
}

/// Who contradicts a final payment, for [`report_reversal`].
#[derive(Clone, Copy)]
enum Contradiction {
    /// A verified callback (`callback_contradicts_final`).
    Callback,
    /// The provider's answer to the dispatcher's call (`provider_contradicts_final`).
    Answer,
}

impl Contradiction {
    fn code(self) -> &'static str {
        match self {
            Contradiction::Callback => "callback_contradicts_final",
            Contradiction::Answer => "provider_contradicts_final",
        }
    }

    fn who(self) -> &'static str {
        match self {
            Contradiction::Callback => "a verified provider callback",
            Contradiction::Answer => "the provider's answer to a status inquiry",
        }
    }
}

impl Store {
    /// Tells upstream and ops when the provider answered the dispatcher `answered` (a final
    /// state) for a payment that a change made meanwhile — an operator's resolution, a
    /// callback — left in another final state: the dispatcher's own change lost its
    /// compare-and-set, and dropped quietly, upstream would act on a final result the provider
    /// contradicts (reissue a payment the provider says it paid). Reported as a callback's
    /// reversal is, with `provider_contradicts_final`. Returns the state found if it reported;
    /// `None` when the payment is not final otherwise (it moved on as the answer says, or is
    /// still in progress and will be asked again).
    pub async fn report_contradicting_answer(
        &self,
        payment_id: &str,
        answered: PaymentState,
        detail: &str,
    ) -> Result<Option<PaymentState>, StoreError> {
        let asked = std::sync::Arc::new((payment_id.to_string(), answered, detail.to_string()));
        let reported = self
            .write(payment_id, move |connection, appends| {
                let asked = asked.clone();
                Box::pin(async move {
                    let (payment_id, answered, detail) = &*asked;
                    for _ in 0..5 {
                        let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"))
                            .bind(payment_id.as_str())
                            .fetch_optional(&mut *connection)
                            .await?;
                        let Some(row) = row else {
                            return Ok(None);
                        };
                        let record = PaymentRecord::from_row(&row)?;
                        if !record.state.is_final() || record.state == *answered {
                            return Ok(None);
                        }
                        if report_reversal(connection, appends, &record, Contradiction::Answer, detail).await? {
                            return Ok(Some(record.state));
                        }
                    }
                    Err(sqlx::Error::Protocol(format!(
                        "payment {payment_id} kept changing while a contradicting answer was reported"
                    )))
                })
            })
            .await?;
        if let Some(state) = reported {
            metrics::counter!("gateway_answers_contradicting_final_total").increment(1);
            tracing::error!(payment_id, %state, %answered, "The provider's answer contradicts a final payment; upstream and ops are told.");
        }
        Ok(reported)
    }
}

/// Tells upstream and ops that a provider reverses a final payment (`who` says how: a verified
/// callback, or its answer to the dispatcher): the next `seq` as a non-final `needs_review`
/// result, a dead letter `contradiction`, and a line in the event log. The payment's state
/// stays final. Returns false when the payment changed meanwhile (compare-and-set on
/// `version`), so the caller reads it again.
async fn report_reversal(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    record: &PaymentRecord,
    who: Contradiction,
    detail: &str,
) -> Result<bool, sqlx::Error> {
    let code = who.code();
    let now = now_ms();
    let bumped = sqlx::query(
        "UPDATE payments SET seq = seq + 1, version = version + 1, updated_at = $1 WHERE payment_id = $2 AND version = $3",
    )
    .bind(now)
    .bind(&record.payment_id)
    .bind(record.version)
    .execute(&mut *transaction)
    .await?;
    if bumped.rows_affected() == 0 {
        return Ok(false);
    }
    record_event(appends, record, Some(record.state), record.state, Some(code), detail);
    let reported = PaymentRecord {
        seq: record.seq + 1,
        updated_at: now,
        ..record.clone()
    };
    if let Some(mut message) = reported.result_message() {
        message.status = ResultStatus::NeedsReview;
        message.is_final = false;
        message.reason_code = Some(code.to_string());
        message.reason = Some(format!(
            "the payment was reported {} but {} contradicts it: {detail}",
            record.state,
            who.who()
        ));
        insert_result(appends, &message, Some(record.key()))?;
    }
    dead_letter_payment(transaction, appends, record, "contradiction", detail).await?;
    Ok(true)
}

/// The callback inside a transaction (see [`Store::apply_callback`]). A try that loses the
/// compare-and-set to another gateway takes its callback id back before the next read, and has
/// appended nothing (appends follow a successful update), so it leaves nothing behind.
async fn apply_callback_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    provider: &str,
    event_id: &str,
    payment_id: &str,
    decide: &(dyn Fn(&PaymentRecord) -> CallbackDecision + Send + Sync),
) -> Result<CallbackOutcome, sqlx::Error> {
    for _ in 0..5 {
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
            return Ok(CallbackOutcome::ForAnotherProvider);
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
        let applied = match decide(&record) {
            CallbackDecision::Apply(change) => {
                let to = change.to;
                apply_in(transaction, appends, &record, change)
                    .await?
                    .map(|_| CallbackOutcome::Applied(to))
            }
            CallbackDecision::Ignore => Some(CallbackOutcome::Ignored(record.state)),
            CallbackDecision::Reverse(detail) => {
                report_reversal(transaction, appends, &record, Contradiction::Callback, &detail)
                    .await?
                    .then_some(CallbackOutcome::Reversal(record.state))
            }
            // A final payment never changes, but the note stays on its record.
            CallbackDecision::Flag(detail) => Some(flag(appends, &record, &detail)),
        };
        if let Some(outcome) = applied {
            return Ok(outcome);
        }
        // Someone moved the payment between our read and our write: give the callback id
        // back and read again.
        forget_callback(transaction, provider, event_id).await?;
    }
    Err(sqlx::Error::Protocol(format!(
        "payment {payment_id} kept changing while a callback was applied"
    )))
}
