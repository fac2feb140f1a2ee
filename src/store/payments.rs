//! Payment records: leasing due work and applying state changes with their outbox rows.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::appends::{Appends, PaymentKey};
use super::index_plans::fetch_lease;
use super::multi_row::rows_returning;
use super::outbox::{insert_dead_letter, insert_result};
use super::text::storable_owned;
use super::wallets::move_reservation_to;
use super::{now_ms, state_column, Backend, Store, StoreError, StoredProperties};
use gateway_adapter::{PaymentId, PayoutRequest};

use crate::order::PaymentOrder;
use crate::payment::{PaymentState, ResultMessage};

/// One payment as the store has it. `Debug` leaves out the stored order, which holds
/// personal data.
#[derive(Clone)]
pub struct PaymentRecord {
    pub payment_id: String,
    pub order_id: String,
    pub channel: String,
    pub provider: String,
    pub amount: i64,
    pub batch_id: String,
    pub commune_code: String,
    /// The stored order, where the read asked for it ([`PAYMENT_COLUMNS_WITH_ORDER`]): a
    /// dispatcher's lease and a lookup by id do, a callback does not (it never builds a
    /// request; at province size the stored orders were 22% of the file pages SQLite read,
    /// callbacks' and leases' reads together).
    pub order_json: Option<String>,
    pub state: PaymentState,
    /// Bumped by every change; changes are compare-and-set on it, so two writers (the
    /// dispatcher and a callback) can never both move the same payment.
    pub version: i64,
    /// The `seq` of the last published result.
    pub seq: i64,
    pub attempts: i64,
    pub inquiries: i64,
    pub next_attempt_at: Option<i64>,
    pub provider_ref: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the payment was first handed to the provider; `None` while nothing can have left.
    pub submitted_at: Option<i64>,
}

/// The columns of `payments` a record is made of, as a literal (for `concat!`).
macro_rules! record_columns {
    () => {
        "payment_id, order_id, channel, provider, amount, batch_id, commune_code, state, version, seq, \
         attempts, inquiries, next_attempt_at, provider_ref, reason_code, reason, created_at, updated_at, \
         submitted_at"
    };
}

/// A statement's columns for [`PaymentRecord::from_row`], on `payments` unaliased, without the
/// stored order: all a state change or a callback needs.
pub(super) const PAYMENT_COLUMNS: &str = record_columns!();

/// [`PAYMENT_COLUMNS`] and the stored order, for reads that build a provider request from it.
/// The order lives in `payment_orders` (written once, so the row every change rewrites stays
/// narrow) and is read by its key.
pub(super) const PAYMENT_COLUMNS_WITH_ORDER: &str = concat!(
    record_columns!(),
    ", (SELECT o.order_json FROM payment_orders o \
     WHERE o.created_at = payments.created_at AND o.payment_id = payments.payment_id) AS order_json"
);

impl std::fmt::Debug for PaymentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRecord")
            .field("payment_id", &self.payment_id)
            .field("order_id", &self.order_id)
            .field("provider", &self.provider)
            .field("amount", &self.amount)
            .field("state", &self.state)
            .field("version", &self.version)
            .field("seq", &self.seq)
            .field("attempts", &self.attempts)
            .field("submitted_at", &self.submitted_at)
            .finish_non_exhaustive()
    }
}

impl PaymentRecord {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            payment_id: row.try_get("payment_id")?,
            order_id: row.try_get("order_id")?,
            channel: row.try_get("channel")?,
            provider: row.try_get("provider")?,
            amount: row.try_get("amount")?,
            batch_id: row.try_get("batch_id")?,
            commune_code: row.try_get("commune_code")?,
            order_json: match row.try_get("order_json") {
                Err(sqlx::Error::ColumnNotFound(_)) => None,
                read => read?,
            },
            state: state_column(row, "state")?,
            version: row.try_get("version")?,
            seq: row.try_get("seq")?,
            attempts: row.try_get("attempts")?,
            inquiries: row.try_get("inquiries")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            provider_ref: row.try_get("provider_ref")?,
            reason_code: row.try_get("reason_code")?,
            reason: row.try_get("reason")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            submitted_at: row.try_get("submitted_at")?,
        })
    }

    /// The validated order this payment was claimed from; an error if the record was read
    /// without it.
    pub fn order(&self) -> Result<PaymentOrder, serde_json::Error> {
        let Some(order_json) = &self.order_json else {
            return Err(serde::de::Error::custom(
                "the payment was read without its stored order",
            ));
        };
        serde_json::from_str(order_json)
    }

    /// The result message for this record as it stands.
    /// How its lines in the event log and the outbox are filed.
    pub(super) fn key(&self) -> PaymentKey<'_> {
        PaymentKey {
            id: &self.payment_id,
            created_at: self.created_at,
        }
    }

    pub fn result_message(&self) -> Option<ResultMessage> {
        let status = self.state.published_as()?;
        Some(ResultMessage {
            order_id: self.order_id.clone(),
            payment_id: Some(self.payment_id.clone()),
            status,
            is_final: status.is_final(),
            seq: self.seq,
            channel: Some(self.channel.clone()),
            amount: u64::try_from(self.amount).ok(),
            provider_ref: self.provider_ref.clone(),
            reason_code: self.reason_code.clone(),
            reason: self.reason.clone(),
            attempts: self.attempts,
            occurred_at: chrono::DateTime::from_timestamp_millis(self.updated_at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }
}

impl PaymentRecord {
    /// The request the adapters get for this payment, rebuilt from the stored order; the
    /// payment id is the stored one, so every call carries the same provider idempotency key.
    pub fn payout_request(&self) -> Result<PayoutRequest, serde_json::Error> {
        let order = self.order()?;
        Ok(PayoutRequest {
            payment_id: PaymentId::from_stored(self.payment_id.clone()),
            order_id: order.order_id.as_str().to_string(),
            amount: order.amount,
            beneficiary: order.beneficiary,
            destination: order.destination,
            memo: order.memo,
        })
    }
}

/// What to do with the inquiry counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Inquiries {
    #[default]
    Keep,
    Reset,
    Increment,
}

/// One state change, as the dispatcher or a callback decided it.
#[derive(Clone, Debug)]
pub struct Change {
    pub to: PaymentState,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// Replaces the stored provider reference when set.
    pub provider_ref: Option<String>,
    /// When the dispatcher should look at the payment again; `None` for nothing scheduled.
    pub next_attempt_at: Option<i64>,
    /// Counts one more submission attempt.
    pub count_attempt: bool,
    pub inquiries: Inquiries,
    /// Also dead-letters the original order with this `x-gateway-reason`.
    pub dead_letter: Option<&'static str>,
    /// Moves the payment's wallet reservation, if it holds one in an earlier month, to this
    /// month (`YYYY-MM`, Vietnam time): set on a submit that repeats one already sent, whose
    /// money goes in the month it is sent again (see [`super::wallets`]).
    pub wallet_month: Option<String>,
    /// A sentence for the event log (no personal data).
    pub detail: String,
}

impl Change {
    pub fn to(to: PaymentState, detail: impl Into<String>) -> Self {
        Self {
            to,
            reason_code: None,
            reason: None,
            provider_ref: None,
            next_attempt_at: None,
            count_attempt: false,
            inquiries: Inquiries::Keep,
            dead_letter: None,
            wallet_month: None,
            detail: detail.into(),
        }
    }

    pub fn reason(mut self, code: impl Into<String>, reason: impl Into<String>) -> Self {
        self.reason_code = Some(code.into());
        self.reason = Some(reason.into());
        self
    }

    pub fn at(mut self, next_attempt_at: i64) -> Self {
        self.next_attempt_at = Some(next_attempt_at);
        self
    }
}

impl Store {
    /// Leases up to `limit` payments of `provider` whose `next_attempt_at` has come, for
    /// `lease_ms`. A payment leased by a worker that died is leased again once its lease ran out.
    pub async fn lease_due(
        &self,
        provider: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<PaymentRecord>, sqlx::Error> {
        let backend = self.backend();
        let statement = lease_due_statement(backend);
        let lease = std::sync::Arc::new((statement, provider.to_string()));
        self.write_small(&format!("lease:{provider}"), move |connection| {
            let lease = lease.clone();
            Box::pin(async move {
                let (statement, provider) = &*lease;
                // Now is when the lease runs, which may be a group commit later than the call.
                let now = now_ms();
                let query = sqlx::query(statement)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(provider.as_str())
                    .bind(limit);
                let rows = fetch_lease(connection, backend, query).await?;
                rows.iter().map(PaymentRecord::from_row).collect()
            })
        })
        .await
    }

    /// Loads one payment.
    pub async fn payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS_WITH_ORDER} FROM payments WHERE payment_id = $1"
        ))
        .bind(payment_id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| PaymentRecord::from_row(&row))
        .transpose()
    }

    /// Applies a change if the payment is still as `record` saw it. Returns the new record,
    /// or `None` when someone else changed the payment first (nothing is written then).
    pub async fn apply(&self, record: &PaymentRecord, change: Change) -> Result<Option<PaymentRecord>, StoreError> {
        let pending = PendingApply {
            record: record.clone(),
            change,
            outcome: None,
        };
        self.writer.submit(&record.payment_id, pending).await
    }
}

/// A state change waiting in the group commit (see [`Store::apply`]).
pub(super) struct PendingApply {
    pub record: PaymentRecord,
    pub change: Change,
    /// Set by [`apply_together`](super::together) or [`PendingApply::run`].
    pub outcome: Option<Option<PaymentRecord>>,
}

impl PendingApply {
    /// Applies the change on its own.
    pub async fn run(&mut self, transaction: &mut AnyConnection, appends: &mut Appends) -> Result<(), sqlx::Error> {
        self.outcome = Some(apply_in(transaction, appends, &self.record, self.change.clone()).await?);
        Ok(())
    }
}

/// The dispatcher's lease: `$1` lease until, `$2` now, `$3` provider, `$4` limit. One statement.
/// On PostgreSQL the pick locks its rows and skips rows another gateway is leasing right now, so
/// gateways take different payments instead of queueing behind each other's locks, and a row it
/// locked cannot change before the update. On SQLite (one writer) the outer condition is checked
/// again as it updates. Both read the index `payments_provider_due`, in its order (on PostgreSQL
/// whatever the statistics say, see `index_plans`).
pub(super) fn lease_due_statement(backend: Backend) -> String {
    let due = "next_attempt_at IS NOT NULL AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2)";
    match backend {
        // Picked and locked once, in a materialised CTE (see `Store::lease_unpublished`).
        Backend::Postgres => format!(
            "WITH picked AS MATERIALIZED ( \
                 SELECT payment_id AS picked_id FROM payments WHERE {due} AND provider = $3 \
                 ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE payments SET lease_until = $1 FROM picked WHERE payment_id = picked_id \
             RETURNING {PAYMENT_COLUMNS_WITH_ORDER}"
        ),
        Backend::Sqlite => format!(
            "UPDATE payments SET lease_until = $1 WHERE payment_id IN ( \
                 SELECT payment_id FROM payments WHERE {due} AND provider = $3 ORDER BY next_attempt_at LIMIT $4) \
             AND {due} RETURNING {PAYMENT_COLUMNS_WITH_ORDER}"
        ),
    }
}

/// Applies `change` inside a transaction: the row (compare-and-set on `version`), the event
/// log, the result message if upstream sees this state, and the dead letter if asked for.
pub(super) async fn apply_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    record: &PaymentRecord,
    change: Change,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    let next = next_record(record, &change)?;
    let updated = update_together(transaction, &[(record, &next)]).await?;
    if updated.is_empty() {
        return Ok(None);
    }
    append_change(appends, record, &next, &change)?;
    if let Some(month) = &change.wallet_month {
        move_reservation_to(transaction, &record.payment_id, month).await?;
    }
    if let Some(reason) = change.dead_letter {
        dead_letter_payment(transaction, appends, record, reason, &change.detail).await?;
    }
    Ok(Some(next))
}

/// What `record` becomes under `change` (pure); an illegal transition is an error.
pub(super) fn next_record(record: &PaymentRecord, change: &Change) -> Result<PaymentRecord, sqlx::Error> {
    if !record.state.can_become(change.to) {
        return Err(sqlx::Error::Protocol(format!(
            "illegal payment transition {} -> {} for {}",
            record.state, change.to, record.payment_id
        )));
    }
    let now = now_ms();
    Ok(PaymentRecord {
        state: change.to,
        version: record.version + 1,
        seq: record.seq + i64::from(publishes(record, change)),
        attempts: record.attempts + i64::from(change.count_attempt),
        inquiries: match change.inquiries {
            Inquiries::Keep => record.inquiries,
            Inquiries::Reset => 0,
            Inquiries::Increment => record.inquiries + 1,
        },
        next_attempt_at: change.next_attempt_at,
        // A provider's text, stored: never a value the database refuses (see `text`).
        provider_ref: storable_owned(change.provider_ref.clone()).or_else(|| record.provider_ref.clone()),
        reason_code: storable_owned(change.reason_code.clone()),
        reason: storable_owned(change.reason.clone()),
        updated_at: now,
        submitted_at: record
            .submitted_at
            .or((change.to == PaymentState::Submitting).then_some(now)),
        ..record.clone()
    })
}

/// Whether upstream gets a result for this change: a new state that upstream sees.
fn publishes(record: &PaymentRecord, change: &Change) -> bool {
    change.to != record.state && change.to.published_as().is_some()
}

/// A batch's state changes as one statement: [`CHANGES_HEAD`], a [`CHANGES_ROW`] per change,
/// [`CHANGES_TAIL`] (see [`update_together`]).
pub(super) const CHANGES_HEAD: &str =
    "WITH v (id, old_version, state, version, seq, attempts, inquiries, next_attempt_at, provider_ref, \
     reason_code, reason, updated_at, submitted_at) AS (VALUES ";
/// Casts, so PostgreSQL knows each column's type in the list (SQLite takes them as they are).
pub(super) const CHANGES_ROW: &str = "(CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS BIGINT), \
     CAST($5 AS BIGINT), CAST($6 AS BIGINT), CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS TEXT), \
     CAST($10 AS TEXT), CAST($11 AS TEXT), CAST($12 AS BIGINT), CAST($13 AS BIGINT))";
pub(super) const CHANGES_TAIL: &str =
    ") UPDATE payments SET state = v.state, version = v.version, seq = v.seq, attempts = v.attempts, \
     inquiries = v.inquiries, next_attempt_at = v.next_attempt_at, lease_until = NULL, \
     provider_ref = v.provider_ref, reason_code = v.reason_code, reason = v.reason, updated_at = v.updated_at, \
     submitted_at = v.submitted_at FROM v WHERE payments.payment_id = v.id AND payments.version = v.old_version \
     RETURNING payment_id";

/// The compare-and-set of each `(record, next)`: `next` is written where the row is still at
/// `record.version`. All of them in one statement (an `UPDATE … FROM` a list of rows), so a
/// batch's state changes cost one round trip, not one each. Returns the payment ids that were
/// written; the others changed meanwhile. A payment appears at most once in `changes`.
pub(super) async fn update_together(
    transaction: &mut AnyConnection,
    changes: &[(&PaymentRecord, &PaymentRecord)],
) -> Result<HashSet<String>, sqlx::Error> {
    let written = rows_returning(
        transaction,
        CHANGES_HEAD,
        CHANGES_ROW,
        CHANGES_TAIL,
        changes,
        |query, (record, next)| {
            query
                .bind(record.payment_id.as_str())
                .bind(record.version)
                .bind(next.state.as_str())
                .bind(next.version)
                .bind(next.seq)
                .bind(next.attempts)
                .bind(next.inquiries)
                .bind(next.next_attempt_at)
                .bind(next.provider_ref.as_deref())
                .bind(next.reason_code.as_deref())
                .bind(next.reason.as_deref())
                .bind(next.updated_at)
                .bind(next.submitted_at)
        },
    )
    .await?;
    written.iter().map(|row| row.try_get("payment_id")).collect()
}

/// The rows a written change appends: its line in the event log (unless a pending payment
/// was only found still pending) and its result, if upstream sees the new state.
pub(super) fn append_change(
    appends: &mut Appends,
    record: &PaymentRecord,
    next: &PaymentRecord,
    change: &Change,
) -> Result<(), sqlx::Error> {
    let nothing_new = record.state == PaymentState::Pending && next.state == PaymentState::Pending;
    if !nothing_new {
        record_event(
            appends,
            record,
            Some(record.state),
            next.state,
            next.reason_code.as_deref(),
            &change.detail,
        );
    }
    if publishes(record, change) {
        if let Some(message) = next.result_message() {
            insert_result(appends, &message, Some(next.key()))?;
        }
    }
    Ok(())
}

/// Dead-letters a payment's original order (its bytes and properties as they arrived) with
/// the gateway's `x-gateway-reason` and `x-gateway-detail`.
pub(super) async fn dead_letter_payment(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    record: &PaymentRecord,
    reason: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let (raw_message, raw_properties): (Vec<u8>, String) = sqlx::query_as(
        "SELECT raw_message, raw_properties FROM payment_orders WHERE created_at = $1 AND payment_id = $2",
    )
    .bind(record.created_at)
    .bind(&record.payment_id)
    .fetch_one(&mut *transaction)
    .await?;
    let properties = StoredProperties::from_json(&raw_properties).with_dead_letter(reason, detail);
    insert_dead_letter(appends, Some(record.key()), &raw_message, &properties);
    Ok(())
}

/// Appends one line to a payment's event log (written with the rest of the transaction's
/// appends).
pub(super) fn record_event(
    appends: &mut Appends,
    payment: &PaymentRecord,
    from: Option<PaymentState>,
    to: PaymentState,
    reason_code: Option<&str>,
    detail: &str,
) {
    appends.event(
        payment.key(),
        from.map(PaymentState::as_str),
        to.as_str(),
        reason_code,
        detail,
        now_ms(),
    );
}
