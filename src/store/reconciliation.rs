//! Reconciliation in the store: the payments a provider statement is matched against, and a
//! payout the provider returned, applied once per statement line.
//!
//! A return does not change the payment's state (final states never change: the credit did
//! happen). It bumps `seq`, writes a line in the event log and a final `returned` result in the
//! outbox, frees the beneficiary's duplicate-payment slot and the wallet's monthly reservation
//! (so the reissued order is paid), and remembers the statement line in `reconciliation_items`,
//! all in one transaction;
//! the same line applied again finds itself remembered and writes nothing.
//!
//! A payout line that may be a second credit (a duplicate, or a payout under another reference
//! than the provider reported) is remembered too ([`Store::remember_extra_payouts`]), so that
//! a return of that payment on a later day is listed for a person, not applied.

use sqlx::{AnyConnection, Connection, Row};

use super::appends::Appends;
use super::multi_row::rows_returning;
use super::outbox::insert_result;
use super::payments::{record_event, PAYMENT_COLUMNS};
use super::{now_ms, state_column, PaymentRecord, Store, StoreError};
use crate::payment::{PaymentState, ResultStatus};
use crate::reconcile::GatewayPayment;

/// The reason code of a `returned` result and of its event-log line.
pub const RETURNED_BY_PROVIDER: &str = "returned_by_provider";

/// References per `IN (…)` list, well under both backends' parameter limits.
const CHUNK: usize = 500;

/// The kind of a `reconciliation_items` row that remembers a second payout of a payment
/// (a duplicate line, or a payout under another reference than the provider reported).
const EXTRA_PAYOUT: &str = "extra_payout";

/// The kind of a `reconciliation_items` row that remembers a payment a reconciliation expected
/// and did not find (in transit over midnight, or not final yet), for the days after it; its
/// `booked_on` is the day of that reconciliation.
const CARRIED: &str = "carried";

/// The kind a [`CARRIED`] row becomes when a person settled the payment with its provider
/// (`gateway carried forget`): no day expects it any more, and reconciling the day it was sent
/// again does not carry it again (its `entry_ref` is taken).
const FORGOTTEN: &str = "carried_forgotten";

/// The reason code, and the prefix of the reference, of a return a person recorded for a
/// carried payment the provider refunded uncredited (`gateway carried forget --as refunded`).
pub const REFUNDED_UNCREDITED: &str = "refunded_uncredited";

/// The kind of a `reconciliation_items` row that remembers a payment a statement of a later
/// day than it was sent booked; its `booked_on` is that statement's day.
const BOOKED_LATE: &str = "booked_late";

/// How many first bookings one transaction remembers (see [`Store::remember_first_bookings`]).
const FIRST_BOOKINGS_PER_WRITE: usize = 1_024;

/// The kind of a `reconciliation_items` row that remembers the day of the payout line that
/// first booked a payment, as the first reconciliation that found one saw it (written once,
/// never moved: a statement reconciled again finds its line on that day and changes nothing,
/// and a payout of the payment on any other day is a second credit).
const FIRST_BOOKED: &str = "booked";

/// A payment's columns for matching, from `payments`, with the first day an earlier
/// reconciliation remembered a second payout of it booked on (rows of kind [`EXTRA_PAYOUT`])
/// and the day a reconciliation carried it over from (kind [`CARRIED`]).
const MATCH_COLUMNS: &str = "payment_id, order_id, amount, state, provider_ref, submitted_at, \
     (SELECT MIN(r.booked_on) FROM reconciliation_items r WHERE r.payment_id = payments.payment_id \
     AND r.kind = 'extra_payout') AS extra_payout_booked_on, \
     (SELECT MIN(r.booked_on) FROM reconciliation_items r WHERE r.payment_id = payments.payment_id \
     AND r.kind = 'carried') AS carried_since, \
     (SELECT MIN(r.booked_on) FROM reconciliation_items r WHERE r.payment_id = payments.payment_id \
     AND r.kind = 'booked_late') AS booked_late_on, \
     (SELECT MIN(r.booked_on) FROM reconciliation_items r WHERE r.payment_id = payments.payment_id \
     AND r.kind = 'booked') AS first_booked_on, \
     (SELECT MIN(r.booked_on) FROM reconciliation_items r WHERE r.payment_id = payments.payment_id \
     AND r.kind = 'returned') AS returned_on";

/// How a person settled a carried payment with its provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The beneficiary was credited after all (booked on a statement that was never
    /// reconciled, or under another reference): the payment stays succeeded.
    Credited,
    /// It was never credited, and the money came back to the disbursement account on the
    /// Vietnam day `on` (`YYYY-MM-DD`): a return, with a final `returned` result for upstream.
    Refunded { on: String },
}

/// What forgetting a carried payment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForgetOutcome {
    /// No longer expected; it stays succeeded.
    Forgotten,
    /// No longer expected, and returned: the `returned` result has this `seq`.
    Refunded { seq: i64 },
    /// The provider carries no such payment; nothing was written.
    NotCarried,
    /// The payment is not succeeded (not final yet: its own flow settles it); nothing was written.
    NotSucceeded(PaymentState),
    /// No longer expected; a statement had returned it already (under `entry_ref`), so no
    /// second return was written.
    ReturnedEarlier { entry_ref: String },
    /// Refused as credited: a statement returned it (under `entry_ref`), so the beneficiary
    /// does not have the money and upstream was told so; nothing was written.
    ReturnedNotCredited { entry_ref: String },
    /// Refused as refunded: the refund's day is before the day it was sent (`sent_on`);
    /// nothing was written.
    RefundBeforeSent { sent_on: String },
    /// Refused as refunded: a statement booked a second payout of it (on the day `on`), so the
    /// beneficiary may hold a credit whatever came back; nothing was written.
    PaidMoreThanOnce { on: String },
    /// The payment changed while it was being forgotten; nothing was written.
    ChangedMeanwhile,
}

/// A payment a reconciliation carried over to the days after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedPayment {
    pub provider: String,
    pub payment_id: String,
    pub order_id: String,
    pub amount: i64,
    /// The day (`YYYY-MM-DD`) of the reconciliation that first carried it.
    pub since: String,
    pub state: PaymentState,
}

/// A payout line that may be a second credit of its payment, to be remembered for the
/// returns of later days (see [`Store::remember_extra_payouts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraPayout {
    pub provider: String,
    /// The statement line's own reference.
    pub entry_ref: String,
    pub payment_id: String,
    /// Whole đồng, as the statement says.
    pub amount: i64,
    /// The Vietnam day it was booked, `YYYY-MM-DD`.
    pub booked_on: String,
}

/// A statement line that says a payout came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnToApply {
    pub provider: String,
    /// The statement line's own reference: what the return is remembered by.
    pub entry_ref: String,
    pub payment_id: String,
    /// Whole đồng, as the statement says.
    pub amount: i64,
    /// The provider's return reason code (ISO 20022, e.g. `AC04`).
    pub reason_code: String,
    /// The Vietnam day the return was booked, `YYYY-MM-DD`.
    pub booked_on: String,
    /// What upstream reads in the result's `reason`.
    pub reason: String,
}

/// What applying a return did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnOutcome {
    /// Applied now: the `returned` result has this `seq`.
    Applied { seq: i64 },
    /// This statement line was applied before; nothing was written.
    AlreadyApplied,
    /// The statement line's reference is remembered for another payment (or as another kind
    /// of line): the provider gave one reference to two lines, and this one cannot be told
    /// apart from the other. Nothing was written.
    ReferenceTaken { payment_id: String },
    /// Another statement line already returned this payment; nothing was written.
    ReturnedEarlier { entry_ref: String },
    /// The line books the refund a person recorded before it (`gateway carried forget --as
    /// refunded`): the recorded return is now this line's, so that this line again is applied
    /// already and any other line returning the payment is one return too many. No second
    /// return was written.
    RecordedRefundBooked,
    /// The payment is not a succeeded payment of this provider with this amount (it changed
    /// since the match); nothing was written.
    NotApplicable,
}

impl Store {
    /// The payments of `provider` the statement is matched against: those sent inside
    /// `window` (ms since 1970, end exclusive) and those the statement names by reference.
    pub async fn reconciliation_payments(
        &self,
        provider: &str,
        references: &[String],
        window: (i64, i64),
    ) -> Result<Vec<GatewayPayment>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {MATCH_COLUMNS} FROM payments WHERE provider = $1 AND submitted_at >= $2 AND submitted_at < $3"
        ))
        .bind(provider)
        .bind(window.0)
        .bind(window.1)
        .fetch_all(self.pool())
        .await?;
        let mut payments = rows.iter().map(gateway_payment).collect::<Result<Vec<_>, _>>()?;
        let known: std::collections::HashSet<String> = payments.iter().map(|p| p.payment_id.clone()).collect();
        let mut wanted: Vec<&String> = references.iter().filter(|r| !known.contains(*r)).collect();
        wanted.sort();
        wanted.dedup();
        for chunk in wanted.chunks(CHUNK) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {MATCH_COLUMNS} FROM payments WHERE provider = $1 AND payment_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(provider);
            for reference in chunk {
                query = query.bind(reference.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                payments.push(gateway_payment(&row)?);
            }
        }
        Ok(payments)
    }

    /// The payments of `provider` whose order id is one of `order_ids`: for statement lines that
    /// name their payment by the upstream order id (camt.053 `EndToEndId` without `InstrId`).
    pub async fn reconciliation_payments_by_order(
        &self,
        provider: &str,
        order_ids: &[String],
    ) -> Result<Vec<GatewayPayment>, sqlx::Error> {
        let mut wanted: Vec<&String> = order_ids.iter().filter(|id| !id.is_empty()).collect();
        wanted.sort();
        wanted.dedup();
        let mut payments = Vec::new();
        for chunk in wanted.chunks(CHUNK) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {MATCH_COLUMNS} FROM payments WHERE provider = $1 AND order_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(provider);
            for order_id in chunk {
                query = query.bind(order_id.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                payments.push(gateway_payment(&row)?);
            }
        }
        Ok(payments)
    }

    /// Remembers payout lines that may be second credits of their payments: a return of such a
    /// payment on a later day is then listed for a person instead of being applied, since it
    /// may be of the extra credit while the beneficiary still holds the first. A payment has
    /// one such row (unique by payment and kind), which keeps the earliest day any of its
    /// extra payouts was booked: statements reconciled out of order (day 5, then a late day 2)
    /// must not leave a return of day 3 looking like the return of the one credit there was.
    pub async fn remember_extra_payouts(&self, extra: &[ExtraPayout]) -> Result<(), StoreError> {
        let Some(first) = extra.first() else {
            return Ok(());
        };
        let extra = std::sync::Arc::new(extra.to_vec());
        self.write(&first.payment_id.clone(), move |connection, _appends| {
            let extra = extra.clone();
            Box::pin(async move {
                for payout in extra.iter() {
                    remember_item(
                        connection,
                        &Remembered {
                            provider: &payout.provider,
                            entry_ref: &payout.entry_ref,
                            kind: EXTRA_PAYOUT,
                            payment_id: &payout.payment_id,
                            amount: payout.amount,
                            day: &payout.booked_on,
                        },
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The payments of `provider` that a reconciliation of a day before `day` (`YYYY-MM-DD`)
    /// carried over: still owed a booking (see [`Store::remember_carried`]).
    pub async fn carried_payments(&self, provider: &str, day: &str) -> Result<Vec<GatewayPayment>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {MATCH_COLUMNS} FROM payments WHERE provider = $1 AND payment_id IN \
             (SELECT payment_id FROM reconciliation_items WHERE provider = $1 AND kind = '{CARRIED}' AND booked_on < $2)"
        ))
        .bind(provider)
        .bind(day)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(gateway_payment).collect()
    }

    /// Remembers the day each of `first_booked` (payment id, amount, day) was first booked,
    /// where nothing is remembered yet (kind [`FIRST_BOOKED`]), [`FIRST_BOOKINGS_PER_WRITE`]
    /// to a transaction: a province's payout day books every payment of it, and one
    /// transaction for all of them held SQLite's one write lock for seconds, against the
    /// running gateway's writer (which gives up after `busy_timeout`). A run cut short between
    /// two leaves the rest to the next run of the same statement, which finds those lines on
    /// the remembered days (a row is never moved).
    pub async fn remember_first_bookings(
        &self,
        provider: &str,
        first_booked: &[(String, i64, chrono::NaiveDate)],
    ) -> Result<(), StoreError> {
        for chunk in first_booked.chunks(FIRST_BOOKINGS_PER_WRITE) {
            let (provider, chunk) = (provider.to_string(), std::sync::Arc::new(chunk.to_vec()));
            self.write(&provider.clone(), move |connection, _appends| {
                let (provider, chunk) = (provider.clone(), chunk.clone());
                Box::pin(async move { remember_first_bookings(connection, &provider, &chunk).await })
            })
            .await?;
        }
        Ok(())
    }

    /// Writes what the reconciliation of `day` (`YYYY-MM-DD`) leaves to other days: the
    /// payments it expected and did not find, with their amounts, so that the days after it
    /// expect them too (a payment keeps the earliest such day); the payments it booked though
    /// they were sent on an earlier day, so that day, reconciled after this one, does not carry
    /// them; and it forgets the carried ones now settled (booked, or ended without a credit).
    pub async fn remember_carried(
        &self,
        provider: &str,
        day: &str,
        carried: &crate::reconcile::CarryOver,
    ) -> Result<(), StoreError> {
        if carried.carry.is_empty() && carried.settled.is_empty() && carried.booked_late.is_empty() {
            return Ok(());
        }
        let provider = provider.to_string();
        let day = day.to_string();
        let carried = std::sync::Arc::new(carried.clone());
        self.write(&provider.clone(), move |connection, _appends| {
            let (provider, day, carried) = (provider.clone(), day.clone(), carried.clone());
            Box::pin(async move {
                for (kind, payments) in [(BOOKED_LATE, &carried.booked_late), (CARRIED, &carried.carry)] {
                    for (payment_id, amount) in payments.iter() {
                        remember_item(
                            connection,
                            &Remembered {
                                provider: &provider,
                                entry_ref: &format!("{kind}:{payment_id}"),
                                kind,
                                payment_id,
                                amount: *amount,
                                day: &day,
                            },
                        )
                        .await?;
                    }
                }
                for payment_id in carried.settled.iter() {
                    sqlx::query(&format!(
                        "DELETE FROM reconciliation_items WHERE provider = $1 AND payment_id = $2 AND kind = '{CARRIED}'"
                    ))
                    .bind(&provider)
                    .bind(payment_id)
                    .execute(&mut *connection)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Applies a return once (see the module comment).
    pub async fn apply_return(&self, returned: &ReturnToApply) -> Result<ReturnOutcome, StoreError> {
        let returned = std::sync::Arc::new(returned.clone());
        self.write(&returned.payment_id.clone(), move |connection, appends| {
            let returned = returned.clone();
            Box::pin(async move { apply_return_in(connection, appends, &returned).await })
        })
        .await
    }

    /// The channel of one of `provider`'s payments, if it has any: what a provider no longer
    /// configured paid, so that its statements can still be reconciled.
    pub async fn channel_paid_by(&self, provider: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT channel FROM payments WHERE provider = $1 LIMIT 1")
            .bind(provider)
            .fetch_optional(self.pool())
            .await
    }

    /// The payments reconciliations carry over (of `provider`, or of every provider), oldest
    /// first: each later day's statement is expected to book them.
    pub async fn carried(&self, provider: Option<&str>) -> Result<Vec<CarriedPayment>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT r.provider, r.payment_id, p.order_id, r.amount, r.booked_on, p.state \
             FROM reconciliation_items r JOIN payments p ON p.payment_id = r.payment_id \
             WHERE r.kind = '{CARRIED}' AND ($1 IS NULL OR r.provider = $1) \
             ORDER BY r.booked_on, r.provider, r.payment_id"
        ))
        .bind(provider.map(str::to_string))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CarriedPayment {
                    provider: row.try_get("provider")?,
                    payment_id: row.try_get("payment_id")?,
                    order_id: row.try_get("order_id")?,
                    amount: row.try_get("amount")?,
                    since: row.try_get("booked_on")?,
                    state: state_column(row, "state")?,
                })
            })
            .collect()
    }

    /// Stops expecting a carried payment of `provider` on the statements of the days after,
    /// once a person settled it with the provider, as `settlement` says; `note` says how and
    /// goes to the payment's event log, with who (`operator`). Only a succeeded payment is
    /// forgotten: one not final yet is settled by its own flow (and leaves the carried list
    /// when it fails); and not one the statements contradict (see [`ForgetOutcome`]).
    pub async fn forget_carried(
        &self,
        provider: &str,
        payment_id: &str,
        settlement: &Settlement,
        operator: &str,
        note: &str,
    ) -> Result<ForgetOutcome, StoreError> {
        let (provider, payment_id) = (provider.to_string(), payment_id.to_string());
        let note = format!("by operator {operator}: {}", note.trim());
        let settlement = settlement.clone();
        self.write(&payment_id.clone(), move |connection, appends| {
            let (provider, payment_id, note, settlement) =
                (provider.clone(), payment_id.clone(), note.clone(), settlement.clone());
            Box::pin(async move {
                let mut attempt = connection.begin().await?;
                // The change itself is the check: a reconciliation that settled the payment
                // meanwhile (deleting its carried row) leaves nothing to change.
                let forgotten = sqlx::query(&format!(
                    "UPDATE reconciliation_items SET kind = '{FORGOTTEN}', applied_at = $1 \
                     WHERE provider = $2 AND payment_id = $3 AND kind = '{CARRIED}'"
                ))
                .bind(now_ms())
                .bind(&provider)
                .bind(&payment_id)
                .execute(&mut *attempt)
                .await?;
                let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"))
                    .bind(&payment_id)
                    .fetch_optional(&mut *attempt)
                    .await?;
                let (1, Some(row)) = (forgotten.rows_affected(), row) else {
                    attempt.rollback().await?;
                    return Ok(ForgetOutcome::NotCarried);
                };
                let record = PaymentRecord::from_row(&row)?;
                if record.state != PaymentState::Succeeded {
                    attempt.rollback().await?;
                    return Ok(ForgetOutcome::NotSucceeded(record.state));
                }
                if let Settlement::Refunded { on } = &settlement {
                    let sent = record.submitted_at.unwrap_or(record.created_at);
                    let sent_on = chrono::DateTime::from_timestamp_millis(sent)
                        .map(|at| gateway_adapter::vietnam_time::date(at).to_string())
                        .unwrap_or_default();
                    if *on < sent_on {
                        attempt.rollback().await?;
                        return Ok(ForgetOutcome::RefundBeforeSent { sent_on });
                    }
                }
                if let Some(refusal) = settlement_contradicted(&mut attempt, &payment_id, &settlement).await? {
                    attempt.rollback().await?;
                    return Ok(refusal);
                }
                let outcome = match &settlement {
                    Settlement::Credited => ForgetOutcome::Forgotten,
                    Settlement::Refunded { on } => {
                        // As a return on a statement would: a final `returned` result for
                        // upstream, the beneficiary's slot free for a reissued order.
                        let refund = ReturnToApply {
                            provider: provider.clone(),
                            entry_ref: format!("{REFUNDED_UNCREDITED}:{payment_id}"),
                            payment_id: payment_id.clone(),
                            amount: record.amount,
                            reason_code: REFUNDED_UNCREDITED.to_string(),
                            booked_on: on.clone(),
                            reason: format!(
                                "the provider refunded the payout on {on} without crediting the beneficiary"
                            ),
                        };
                        match apply_return_in(&mut attempt, appends, &refund).await? {
                            ReturnOutcome::Applied { seq } => ForgetOutcome::Refunded { seq },
                            // A statement returned it already: the refund is on record, and the
                            // payment is forgotten all the same.
                            ReturnOutcome::ReturnedEarlier { entry_ref } => {
                                ForgetOutcome::ReturnedEarlier { entry_ref }
                            }
                            ReturnOutcome::AlreadyApplied
                            | ReturnOutcome::ReferenceTaken { .. }
                            | ReturnOutcome::RecordedRefundBooked
                            | ReturnOutcome::NotApplicable => {
                                attempt.rollback().await?;
                                return Ok(ForgetOutcome::ChangedMeanwhile);
                            }
                        }
                    }
                };
                let how = match settlement {
                    Settlement::Credited => "the provider credited the beneficiary",
                    Settlement::Refunded { .. } => "the provider refunded the payout uncredited",
                };
                record_event(
                    appends,
                    &record,
                    Some(record.state),
                    record.state,
                    Some(FORGOTTEN),
                    &format!("no longer expected on {provider}'s statements ({how}) {note}"),
                );
                attempt.commit().await?;
                Ok(outcome)
            })
        })
        .await
    }

    /// How many returns reconciliation applied to `provider`'s payments (all of them when
    /// `provider` is `None`): what a report counts as returned.
    pub async fn returned_count(&self, provider: Option<&str>) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM reconciliation_items WHERE kind = 'returned' AND ($1 IS NULL OR provider = $1)",
        )
        .bind(provider.map(str::to_string))
        .fetch_one(self.pool())
        .await?;
        row.try_get("n")
    }
}

/// A statement line, or a payment, that reconciliation remembers for other days.
struct Remembered<'a> {
    provider: &'a str,
    /// Unique per provider: the statement line's reference, or `<kind>:<payment id>`.
    entry_ref: &'a str,
    kind: &'static str,
    payment_id: &'a str,
    amount: i64,
    /// `YYYY-MM-DD`.
    day: &'a str,
}

/// [`Store::remember_first_bookings`] of one chunk, in one statement per 256 rows.
async fn remember_first_bookings(
    connection: &mut AnyConnection,
    provider: &str,
    first_booked: &[(String, i64, chrono::NaiveDate)],
) -> Result<(), sqlx::Error> {
    let applied_at = now_ms();
    let rows: Vec<(String, &str, i64, String)> = first_booked
        .iter()
        .map(|(payment_id, amount, day)| {
            (
                format!("{FIRST_BOOKED}:{payment_id}"),
                payment_id.as_str(),
                *amount,
                day.to_string(),
            )
        })
        .collect();
    rows_returning(
        connection,
        "INSERT INTO reconciliation_items \
         (provider, entry_ref, kind, payment_id, amount, reason_code, booked_on, applied_at) VALUES ",
        &format!("($1, $2, '{FIRST_BOOKED}', $3, $4, NULL, $5, $6)"),
        " ON CONFLICT DO NOTHING",
        &rows,
        |query, (entry_ref, payment_id, amount, day)| {
            query
                .bind(provider.to_string())
                .bind(entry_ref.as_str())
                .bind(*payment_id)
                .bind(*amount)
                .bind(day.as_str())
                .bind(applied_at)
        },
    )
    .await?;
    Ok(())
}

/// Writes a `reconciliation_items` row once. A payment has one row of each kind (unique by
/// payment and kind), which keeps the earliest day written for it: days reconciled out of
/// order must not leave the later day in it.
async fn remember_item(connection: &mut AnyConnection, item: &Remembered<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reconciliation_items SET booked_on = $1 WHERE payment_id = $2 AND kind = $3 AND booked_on > $1",
    )
    .bind(item.day)
    .bind(item.payment_id)
    .bind(item.kind)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO reconciliation_items \
         (provider, entry_ref, kind, payment_id, amount, reason_code, booked_on, applied_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(item.provider)
    .bind(item.entry_ref)
    .bind(item.kind)
    .bind(item.payment_id)
    .bind(item.amount)
    .bind(item.day)
    .bind(now_ms())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

fn gateway_payment(row: &sqlx::any::AnyRow) -> Result<GatewayPayment, sqlx::Error> {
    Ok(GatewayPayment {
        payment_id: row.try_get("payment_id")?,
        order_id: row.try_get("order_id")?,
        amount: row.try_get("amount")?,
        state: state_column(row, "state")?,
        provider_ref: row.try_get("provider_ref")?,
        submitted_at: row.try_get("submitted_at")?,
        // Written by `remember_extra_payouts`: no return is applied past it.
        extra_payout_booked_on: remembered_day(row, "extra_payout_booked_on")?,
        // Written by `remember_carried`.
        carried_since: remembered_day(row, "carried_since")?,
        booked_late_on: remembered_day(row, "booked_late_on")?,
        // Written by `remember_first_bookings`, once.
        first_booked_on: remembered_day(row, "first_booked_on")?,
        // Written by `apply_return`: every later payout of the payment is flagged.
        returned_on: remembered_day(row, "returned_on")?,
    })
}

/// What the statements say against a settlement an operator gives for a carried payment:
/// credited, yet a statement returned it; refunded, yet a statement booked it twice (the
/// refund of one payout leaves the other credited). `None` when nothing does.
async fn settlement_contradicted(
    connection: &mut AnyConnection,
    payment_id: &str,
    settlement: &Settlement,
) -> Result<Option<ForgetOutcome>, sqlx::Error> {
    let kind = match settlement {
        Settlement::Credited => "returned",
        Settlement::Refunded { .. } => EXTRA_PAYOUT,
    };
    let found = sqlx::query(
        "SELECT entry_ref, booked_on FROM reconciliation_items WHERE payment_id = $1 AND kind = $2 \
         ORDER BY booked_on LIMIT 1",
    )
    .bind(payment_id)
    .bind(kind)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    Ok(Some(match settlement {
        Settlement::Credited => ForgetOutcome::ReturnedNotCredited {
            entry_ref: row.try_get("entry_ref")?,
        },
        Settlement::Refunded { .. } => ForgetOutcome::PaidMoreThanOnce {
            on: row.try_get::<Option<String>, _>("booked_on")?.unwrap_or_default(),
        },
    }))
}

/// Whether `entry_ref` is the return a person recorded for `payment_id` (see
/// [`Store::forget_carried`]) rather than a statement line.
fn is_recorded_refund(entry_ref: &str, payment_id: &str) -> bool {
    entry_ref
        .strip_prefix(REFUNDED_UNCREDITED)
        .and_then(|rest| rest.strip_prefix(':'))
        == Some(payment_id)
}

/// A day `reconciliation_items` remembers (`YYYY-MM-DD`). One unreadable counts from the first
/// day there is, the side that never lets a return through or a payout go unflagged.
fn remembered_day(row: &sqlx::any::AnyRow, column: &str) -> Result<Option<chrono::NaiveDate>, sqlx::Error> {
    Ok(row
        .try_get::<Option<String>, _>(column)?
        .map(|day| day.parse().unwrap_or(chrono::NaiveDate::MIN)))
}

/// The statement line `returned` books the refund a person recorded as `recorded`: the
/// recorded return becomes this line's (its day stays the one the person gave, the day
/// upstream was told), unless the line's reference is remembered for something else.
async fn book_recorded_refund(
    mut attempt: sqlx::Transaction<'_, sqlx::Any>,
    returned: &ReturnToApply,
    recorded: &str,
) -> Result<ReturnOutcome, sqlx::Error> {
    let holder: Option<String> =
        sqlx::query_scalar("SELECT payment_id FROM reconciliation_items WHERE provider = $1 AND entry_ref = $2")
            .bind(&returned.provider)
            .bind(&returned.entry_ref)
            .fetch_optional(&mut *attempt)
            .await?;
    if let Some(payment_id) = holder {
        attempt.rollback().await?;
        return Ok(ReturnOutcome::ReferenceTaken { payment_id });
    }
    let moved = sqlx::query(
        "UPDATE reconciliation_items SET entry_ref = $1 \
         WHERE provider = $2 AND entry_ref = $3 AND payment_id = $4 AND kind = 'returned'",
    )
    .bind(&returned.entry_ref)
    .bind(&returned.provider)
    .bind(recorded)
    .bind(&returned.payment_id)
    .execute(&mut *attempt)
    .await?;
    if moved.rows_affected() == 0 {
        // Another run (a reconciliation in another process) made another line the refund
        // meanwhile, or it was recorded under another provider: this line is a second return.
        attempt.rollback().await?;
        return Ok(ReturnOutcome::ReturnedEarlier {
            entry_ref: recorded.to_string(),
        });
    }
    attempt.commit().await?;
    Ok(ReturnOutcome::RecordedRefundBooked)
}

async fn apply_return_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    returned: &ReturnToApply,
) -> Result<ReturnOutcome, sqlx::Error> {
    let mut attempt = transaction.begin().await?;
    let earlier: Option<String> =
        sqlx::query("SELECT entry_ref FROM reconciliation_items WHERE payment_id = $1 AND kind = 'returned'")
            .bind(&returned.payment_id)
            .fetch_optional(&mut *attempt)
            .await?
            .map(|row| row.try_get("entry_ref"))
            .transpose()?;
    if let Some(entry_ref) = earlier {
        if entry_ref != returned.entry_ref
            && is_recorded_refund(&entry_ref, &returned.payment_id)
            && !is_recorded_refund(&returned.entry_ref, &returned.payment_id)
        {
            return book_recorded_refund(attempt, returned, &entry_ref).await;
        }
        attempt.rollback().await?;
        return Ok(if entry_ref == returned.entry_ref {
            ReturnOutcome::AlreadyApplied
        } else {
            ReturnOutcome::ReturnedEarlier { entry_ref }
        });
    }
    let inserted = sqlx::query(
        "INSERT INTO reconciliation_items (provider, entry_ref, kind, payment_id, amount, reason_code, booked_on, applied_at) \
         VALUES ($1, $2, 'returned', $3, $4, $5, $6, $7) ON CONFLICT (provider, entry_ref) DO NOTHING",
    )
    .bind(&returned.provider)
    .bind(&returned.entry_ref)
    .bind(&returned.payment_id)
    .bind(returned.amount)
    .bind(&returned.reason_code)
    .bind(&returned.booked_on)
    .bind(now_ms())
    .execute(&mut *attempt)
    .await?;
    if inserted.rows_affected() == 0 {
        // The line's reference is remembered already, and not as this payment's return (that
        // was found above): another line under the same reference. Never apply it twice, and
        // never call it applied.
        let holder: String =
            sqlx::query_scalar("SELECT payment_id FROM reconciliation_items WHERE provider = $1 AND entry_ref = $2")
                .bind(&returned.provider)
                .bind(&returned.entry_ref)
                .fetch_one(&mut *attempt)
                .await?;
        attempt.rollback().await?;
        return Ok(ReturnOutcome::ReferenceTaken { payment_id: holder });
    }
    let row = sqlx::query(&format!(
        "UPDATE payments SET seq = seq + 1, version = version + 1, updated_at = $1 \
         WHERE payment_id = $2 AND provider = $3 AND state = $4 AND amount = $5 RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind(now_ms())
    .bind(&returned.payment_id)
    .bind(&returned.provider)
    .bind(PaymentState::Succeeded.as_str())
    .bind(returned.amount)
    .fetch_optional(&mut *attempt)
    .await?;
    let Some(row) = row else {
        attempt.rollback().await?;
        return Ok(ReturnOutcome::NotApplicable);
    };
    let record = PaymentRecord::from_row(&row)?;
    // The money came back: the beneficiary's slot for this program, period and payment type
    // is free for the reissued order, and a wallet's month no longer counts the credit.
    for statement in [
        "DELETE FROM beneficiary_periods WHERE payment_id = $1",
        "DELETE FROM wallet_reservations WHERE payment_id = $1",
    ] {
        sqlx::query(statement)
            .bind(&record.payment_id)
            .execute(&mut *attempt)
            .await?;
    }
    let detail = format!(
        "the provider returned the payout ({}) on {}, statement entry {}; a final `returned` result went to upstream with seq {}",
        returned.reason_code, returned.booked_on, returned.entry_ref, record.seq
    );
    record_event(
        appends,
        &record,
        Some(record.state),
        record.state,
        Some(RETURNED_BY_PROVIDER),
        &detail,
    );
    if let Some(mut message) = record.result_message() {
        message.status = ResultStatus::Returned;
        message.is_final = true;
        message.amount = u64::try_from(returned.amount).ok();
        message.reason_code = Some(RETURNED_BY_PROVIDER.to_string());
        message.reason = Some(returned.reason.clone());
        insert_result(appends, &message, Some(record.key()))?;
    }
    attempt.commit().await?;
    Ok(ReturnOutcome::Applied { seq: record.seq })
}
