//! The durable claim of an incoming order, and the record of a rejected one.
//!
//! Both happen in one transaction with their outbox rows; the consumer acks the delivery
//! only after that transaction committed.

use gateway_adapter::Invalid;
use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::appends::Appends;
use super::multi_row::{insert_rows, plain_row, rows_returning, AnyQuery};
use super::outbox::{insert_dead_letter, insert_result, republish_latest_result};
use super::payments::{record_event, PaymentRecord, PAYMENT_COLUMNS};
use super::{now_ms, Store, StoreError, StoredProperties};
use crate::config::DuplicatePaymentPolicy;
use crate::order::PaymentOrder;
use crate::payment::{payment_id_for, PaymentState, ResultMessage, ResultStatus};

/// What the claim found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// A new payment, now `accepted` (or held by the duplicate-payment guard).
    Claimed { payment_id: String, state: PaymentState },
    /// The same order again: nothing new is paid; its latest result is published again.
    Duplicate { payment_id: String },
    /// The idempotency key is taken by a different payload: dead-lettered, nothing paid.
    Conflict { payment_id: String },
}

/// An order that failed validation, as the consumer hands it to the store.
#[derive(Clone, Debug)]
pub struct Rejection<'a> {
    /// The order id if one could be read, else the AMQP `message_id`, else empty.
    pub order_id: String,
    pub channel: Option<String>,
    /// The batch it named, if one could be read.
    pub batch_id: Option<String>,
    pub invalid: &'a Invalid,
}

impl Store {
    /// Claims an order: unique idempotency key and payload fingerprint, the guard against
    /// paying one beneficiary twice for the same program, period and payment type, the
    /// `accepted` result — all in one transaction.
    pub async fn claim(
        &self,
        order: &PaymentOrder,
        provider: &str,
        raw_message: &[u8],
        properties: &StoredProperties,
        policy: DuplicatePaymentPolicy,
    ) -> Result<ClaimOutcome, StoreError> {
        let claim = PendingClaim {
            order: order.clone(),
            provider: provider.to_string(),
            raw_message: raw_message.to_vec(),
            properties: properties.clone(),
            policy,
            outcome: None,
        };
        // Routed by order id, like a rejection of the same order id, so a valid and an invalid
        // copy arriving together are serialised and cannot both take seq 1.
        self.writer.submit(order.order_id.as_str(), claim).await
    }

    /// Whether a payment was claimed for `order`'s order id or under its idempotency key (the
    /// payment id is a hash of the key): its claim would find it, as a duplicate or a conflict.
    pub async fn order_claimed(&self, order: &PaymentOrder) -> Result<bool, sqlx::Error> {
        sqlx::query("SELECT 1 FROM payments WHERE order_id = $1 OR payment_id = $2")
            .bind(order.order_id.as_str())
            .bind(payment_id_for(order.idempotency_key.as_str()).to_string())
            .fetch_optional(self.pool())
            .await
            .map(|row| row.is_some())
    }

    /// Records an invalid order: a final `rejected` result and a dead letter `invalid`.
    pub async fn reject(
        &self,
        rejection: &Rejection<'_>,
        raw_message: &[u8],
        properties: &StoredProperties,
    ) -> Result<(), StoreError> {
        let message = ResultMessage {
            order_id: rejection.order_id.clone(),
            payment_id: None,
            status: ResultStatus::Rejected,
            is_final: true,
            seq: 1,
            channel: rejection.channel.clone(),
            amount: None,
            provider_ref: None,
            reason_code: Some(rejection.invalid.code.to_string()),
            reason: Some(rejection.invalid.message.clone()),
            attempts: 0,
            occurred_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let detail = format!("{}: {}", rejection.invalid.code, rejection.invalid.message);
        let rejected = std::sync::Arc::new(Rejected {
            order_id: rejection.order_id.clone(),
            batch_id: rejection.batch_id.clone(),
            message,
            raw_message: raw_message.to_vec(),
            properties: properties.clone(),
            detail,
        });
        self.write(
            super::writer::Key::Order(&rejection.order_id),
            move |connection, appends| {
                let rejected = rejected.clone();
                Box::pin(async move { reject_in(connection, appends, &rejected).await })
            },
        )
        .await
    }
}

/// A rejection as it is written: what [`Store::reject`] was given, made ready.
struct Rejected {
    order_id: String,
    batch_id: Option<String>,
    message: ResultMessage,
    raw_message: Vec<u8>,
    properties: StoredProperties,
    detail: String,
}

/// The rejection inside a transaction (see [`Store::reject`]).
async fn reject_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    rejected: &Rejected,
) -> Result<(), sqlx::Error> {
    let Rejected {
        order_id,
        batch_id,
        message,
        raw_message,
        properties,
        detail,
    } = rejected;
    // An order id that already has a payment keeps that payment's results: a broken copy
    // of it is dead-lettered, but answering it `rejected` would give the order a second
    // final result.
    let claimed = !order_id.is_empty()
        && sqlx::query("SELECT 1 FROM payments WHERE order_id = $1")
            .bind(order_id.as_str())
            .fetch_optional(&mut *transaction)
            .await?
            .is_some();
    if !claimed {
        insert_result(appends, message, None)?;
        if !order_id.is_empty() {
            sqlx::query(
                // A copy refused again keeps the first refusal, but fills in the batch the first
                // did not name (its `batch_id` missing or empty), so that batch counts it.
                "INSERT INTO rejected_orders (order_id, rejected_at, batch_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (order_id) DO UPDATE SET batch_id = COALESCE(rejected_orders.batch_id, excluded.batch_id)",
            )
            .bind(order_id.as_str())
            .bind(now_ms())
            .bind(batch_id.as_deref())
            .execute(&mut *transaction)
            .await?;
        }
    }
    insert_dead_letter(
        appends,
        None,
        raw_message,
        &properties.with_dead_letter("invalid", detail),
    );
    Ok(())
}

/// A claim waiting in the group commit (see [`Store::claim`]): what it claims, and once a batch
/// ran it, what it found.
pub(super) struct PendingClaim {
    pub order: PaymentOrder,
    pub provider: String,
    pub raw_message: Vec<u8>,
    pub properties: StoredProperties,
    pub policy: DuplicatePaymentPolicy,
    /// Set by [`claim_together`] or [`PendingClaim::run`]; a batch that runs again sets it again.
    pub outcome: Option<ClaimOutcome>,
}

impl PendingClaim {
    /// Claims this order on its own: an insert, and what a taken key or slot calls for.
    pub async fn run(&mut self, transaction: &mut AnyConnection, appends: &mut Appends) -> Result<(), sqlx::Error> {
        let outcome = claim_in(
            transaction,
            appends,
            &self.order,
            &self.provider,
            &self.raw_message,
            &self.properties,
            self.policy,
        )
        .await?;
        self.outcome = Some(outcome);
        Ok(())
    }
}

/// The columns a claim inserts into `payments`.
const CLAIM_HEAD: &str =
    "INSERT INTO payments (payment_id, idempotency_key, order_id, fingerprint, channel, provider, \
     amount, batch_id, commune_code, state, created_at, updated_at, next_attempt_at, seq) VALUES ";

/// One claimed row: `accepted`, due now; a corrected order whose first version was rejected
/// continues after that result (`seq` 2). Each parameter is used once, in order, so SQLite can
/// take them unnamed (see [`super::multi_row`]): the time and the order id are bound again
/// where they repeat.
const CLAIM_ROW: &str = "($1, $2, $3, $4, $5, $6, $7, $8, $9, 'accepted', $10, $11, $12, \
     1 + (SELECT COUNT(*) FROM rejected_orders WHERE order_id = $13))";

/// What a claim's insert returns: the payment id, to tell which rows went in, and the `seq` the
/// row computed. The rest of the record is what the claim wrote, so it is not read back (each
/// returned row is a message from the database).
const CLAIM_TAIL: &str = " ON CONFLICT DO NOTHING RETURNING payment_id, seq";

/// The order of each claimed payment, in the same transaction as its row (see the migration
/// `payment_orders`).
const ORDER_HEAD: &str =
    "INSERT INTO payment_orders (created_at, payment_id, order_json, raw_message, raw_properties) VALUES ";

/// A claim's row, ready to bind.
struct ClaimRow<'a> {
    payment_id: String,
    order: &'a PaymentOrder,
    fingerprint: String,
    provider: &'a str,
    order_json: String,
    raw_message: &'a [u8],
    properties: String,
    now: i64,
}

impl<'a> ClaimRow<'a> {
    fn new(
        order: &'a PaymentOrder,
        provider: &'a str,
        raw_message: &'a [u8],
        properties: &StoredProperties,
        now: i64,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            payment_id: payment_id_for(order.idempotency_key.as_str()).to_string(),
            order,
            fingerprint: order.fingerprint(),
            provider,
            order_json: serde_json::to_string(order).map_err(|error| sqlx::Error::Encode(Box::new(error)))?,
            raw_message,
            properties: properties.to_json(),
            now,
        })
    }

    /// The record of the row as inserted (`accepted`, due now), with the `seq` it returned.
    fn into_record(self, seq: i64) -> PaymentRecord {
        PaymentRecord {
            payment_id: self.payment_id,
            order_id: self.order.order_id.as_str().to_string(),
            channel: self.order.channel().as_str().to_string(),
            provider: self.provider.to_string(),
            amount: self.order.amount.as_i64(),
            batch_id: self.order.batch_id.as_str().to_string(),
            commune_code: self.order.beneficiary.commune_code.as_str().to_string(),
            order_json: Some(self.order_json),
            state: PaymentState::Accepted,
            version: 0,
            seq,
            attempts: 0,
            inquiries: 0,
            next_attempt_at: Some(self.now),
            provider_ref: None,
            reason_code: None,
            reason: None,
            created_at: self.now,
            updated_at: self.now,
            submitted_at: None,
        }
    }

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.payment_id.as_str())
            .bind(self.order.idempotency_key.as_str())
            .bind(self.order.order_id.as_str())
            .bind(self.fingerprint.as_str())
            .bind(self.order.channel().as_str())
            .bind(self.provider)
            .bind(self.order.amount.as_i64())
            .bind(self.order.batch_id.as_str())
            .bind(self.order.beneficiary.commune_code.as_str())
            .bind(self.now)
            .bind(self.now)
            .bind(self.now)
            .bind(self.order.order_id.as_str())
    }

    /// Binds the row's order for [`ORDER_HEAD`].
    fn bind_order<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.now)
            .bind(self.payment_id.as_str())
            .bind(self.order_json.as_str())
            .bind(self.raw_message)
            .bind(self.properties.as_str())
    }
}

/// Claims a batch's orders together: one multi-row insert into `payments` and one into
/// `beneficiary_periods` for all of them, instead of two statements per order (each a round
/// trip to the database). What is not plain — an order whose key or order id is already
/// taken, a second claim of the same key or order id in this batch — is left without an
/// outcome, and the batch then claims it on its own with [`PendingClaim::run`], after these;
/// a slot already held goes through the same check as a claim on its own.
pub(super) async fn claim_together(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    claims: &mut [&mut PendingClaim],
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut payment_ids = HashSet::new();
    let mut order_ids = HashSet::new();
    let mut rows = Vec::with_capacity(claims.len());
    for (index, claim) in claims.iter().enumerate() {
        let row = ClaimRow::new(
            &claim.order,
            &claim.provider,
            &claim.raw_message,
            &claim.properties,
            now,
        )?;
        // Only the first of a payment id or an order id in the batch: in one statement a
        // second would be skipped by its conflict without saying with which row.
        if payment_ids.insert(row.payment_id.clone()) && order_ids.insert(claim.order.order_id.as_str()) {
            rows.push((index, row));
        }
    }
    let inserted = rows_returning(
        transaction,
        CLAIM_HEAD,
        CLAIM_ROW,
        CLAIM_TAIL,
        &rows,
        |query, (_, row)| row.bind(query),
    )
    .await?;
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(inserted.len());
    for row in &inserted {
        seqs.insert(row.try_get("payment_id")?, row.try_get("seq")?);
    }
    let orders: Vec<&ClaimRow> = rows
        .iter()
        .map(|(_, row)| row)
        .filter(|row| seqs.contains_key(&row.payment_id))
        .collect();
    insert_rows(transaction, ORDER_HEAD, &plain_row(5), &orders, |query, row| {
        row.bind_order(query)
    })
    .await?;
    let claimed: Vec<(usize, PaymentRecord)> = rows
        .into_iter()
        .filter_map(|(index, row)| {
            let seq = seqs.remove(&row.payment_id)?;
            Some((index, row.into_record(seq)))
        })
        .collect();
    let slots: Vec<Slot> = claimed
        .iter()
        .map(|(index, record)| Slot::of(&claims[*index].order, &record.payment_id))
        .collect();
    let took = take_slots(transaction, slots).await?;
    for (index, record) in claimed {
        let claim = &mut *claims[index];
        let holder = if took.contains(&record.payment_id) {
            None
        } else {
            contested_slot(transaction, &Slot::of(&claim.order, &record.payment_id)).await?
        };
        claim.outcome = Some(finish_claim(transaction, appends, record, holder, claim.policy).await?);
    }
    Ok(())
}

/// The claim inside a transaction, on its own (see [`Store::claim`]).
async fn claim_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    order: &PaymentOrder,
    provider: &str,
    raw_message: &[u8],
    properties: &StoredProperties,
    policy: DuplicatePaymentPolicy,
) -> Result<ClaimOutcome, sqlx::Error> {
    let row = ClaimRow::new(order, provider, raw_message, properties, now_ms())?;
    let inserted = row
        .bind(sqlx::query(&format!("{CLAIM_HEAD}{CLAIM_ROW}{CLAIM_TAIL}")))
        .fetch_optional(&mut *transaction)
        .await?;
    let (payment_id, fingerprint) = (row.payment_id.clone(), row.fingerprint.clone());

    let Some(inserted) = inserted else {
        // Either the payment id (a hash of the idempotency key, so the key) or the order id is
        // taken (both are unique); the payment holding the key first. Found by the payment id,
        // not the key: PostgreSQL has no index on the key (migration
        // `drop_idempotency_key_unique`), and the key is compared below anyway.
        let existing = sqlx::query(
            "SELECT payment_id, fingerprint, idempotency_key FROM payments WHERE payment_id = $1 OR order_id = $2 \
             ORDER BY CASE WHEN payment_id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(payment_id.as_str())
        .bind(order.order_id.as_str())
        .fetch_one(&mut *transaction)
        .await?;
        let existing_id: String = existing.try_get("payment_id")?;
        let existing_fingerprint: String = existing.try_get("fingerprint")?;
        let existing_key: String = existing.try_get("idempotency_key")?;
        let outcome = if existing_key == order.idempotency_key.as_str() && existing_fingerprint == fingerprint {
            republish_latest_result(transaction, appends, &existing_id).await?;
            ClaimOutcome::Duplicate {
                payment_id: existing_id,
            }
        } else {
            let detail = if existing_key == order.idempotency_key.as_str() {
                format!(
                    "conflict: idempotency key already used by payment {existing_id} for a different payload; nothing was paid for this message"
                )
            } else if existing_id == payment_id {
                // Two keys with one hash: never seen, but not taken for a duplicate either.
                format!(
                    "conflict: payment id {existing_id} is already held by another idempotency key; nothing was paid for this message"
                )
            } else {
                // Results are identified by `<order_id>:<seq>`, so a second payment under the
                // same order id would make upstream drop one of them as a duplicate.
                format!(
                    "conflict: order id already used by payment {existing_id} with another idempotency key; nothing was paid for this message"
                )
            };
            let dead = properties.with_dead_letter("conflict", &detail);
            insert_dead_letter(appends, None, raw_message, &dead);
            ClaimOutcome::Conflict {
                payment_id: existing_id,
            }
        };
        return Ok(outcome);
    };

    row.bind_order(sqlx::query(&format!("{ORDER_HEAD}{}", plain_row(5))))
        .execute(&mut *transaction)
        .await?;
    let record = row.into_record(inserted.try_get("seq")?);
    let slot = Slot::of(order, &payment_id);
    let holder = if take_slots(transaction, vec![slot.clone()]).await?.is_empty() {
        contested_slot(transaction, &slot).await?
    } else {
        None
    };
    finish_claim(transaction, appends, record, holder, policy).await
}

/// The end of a claim whose row was inserted: held if another payment `holder` has its
/// beneficiary's slot, then its event and its first result.
async fn finish_claim(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    mut record: PaymentRecord,
    holder: Option<String>,
    policy: DuplicatePaymentPolicy,
) -> Result<ClaimOutcome, sqlx::Error> {
    let (reason_code, reason) = match holder {
        None => (None, "order claimed from the orders queue".to_string()),
        Some(other) => {
            let reason =
                format!("the beneficiary already has payment {other} for this program, period and payment type");
            let state = match policy {
                DuplicatePaymentPolicy::Reject => PaymentState::Rejected,
                DuplicatePaymentPolicy::Review => PaymentState::NeedsReview,
            };
            let row = sqlx::query(&format!(
                "UPDATE payments SET state = $1, reason_code = $2, reason = $3, next_attempt_at = NULL \
                 WHERE payment_id = $4 RETURNING {PAYMENT_COLUMNS}"
            ))
            .bind(state.as_str())
            .bind(POSSIBLE_DUPLICATE_PAYMENT)
            .bind(&reason)
            .bind(&record.payment_id)
            .fetch_one(&mut *transaction)
            .await?;
            record = PaymentRecord::from_row(&row)?;
            (Some(POSSIBLE_DUPLICATE_PAYMENT), reason)
        }
    };
    let state = record.state;
    record_event(appends, &record, None, state, reason_code, &reason);
    if let Some(message) = record.result_message() {
        insert_result(appends, &message, Some(record.key()))?;
    }
    Ok(ClaimOutcome::Claimed {
        payment_id: record.payment_id,
        state,
    })
}

/// The reason code of a payment held because its beneficiary already has one for the same
/// program, period and payment type.
const POSSIBLE_DUPLICATE_PAYMENT: &str = "possible_duplicate_payment";

/// A beneficiary's (program, period, payment type) slot, which one payment at a time holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    beneficiary_id: String,
    program: String,
    period: String,
    payment_type: String,
    payment_id: String,
}

impl Slot {
    fn of(order: &PaymentOrder, payment_id: &str) -> Self {
        Self {
            beneficiary_id: order.beneficiary.id.as_str().to_string(),
            program: order.program.as_str().to_string(),
            period: order.period.to_string(),
            payment_type: order.payment_type.as_str().to_string(),
            payment_id: payment_id.to_string(),
        }
    }
}

/// Takes the free ones of `slots` in one multi-row insert and returns the payment ids that got
/// theirs. The rows go in slot order, so the inserts of two gateways' batches lock the slots
/// they share in the same order and cannot deadlock on them.
async fn take_slots(transaction: &mut AnyConnection, mut slots: Vec<Slot>) -> Result<HashSet<String>, sqlx::Error> {
    slots.sort();
    let taken = rows_returning(
        transaction,
        "INSERT INTO beneficiary_periods (beneficiary_id, program, period, payment_type, payment_id) VALUES ",
        "($1, $2, $3, $4, $5)",
        " ON CONFLICT DO NOTHING RETURNING payment_id",
        &slots,
        |query, slot| {
            query
                .bind(slot.beneficiary_id.as_str())
                .bind(slot.program.as_str())
                .bind(slot.period.as_str())
                .bind(slot.payment_type.as_str())
                .bind(slot.payment_id.as_str())
        },
    )
    .await?;
    taken.iter().map(|row| row.try_get("payment_id")).collect()
}

/// A slot another payment holds: returns that payment's id, unless the holder failed or was
/// rejected (it paid nothing), in which case this payment takes the slot over.
async fn contested_slot(transaction: &mut AnyConnection, slot: &Slot) -> Result<Option<String>, sqlx::Error> {
    let key = (
        slot.beneficiary_id.as_str(),
        slot.program.as_str(),
        slot.period.as_str(),
        slot.payment_type.as_str(),
    );
    let payment_id = slot.payment_id.as_str();
    let mut holder_id = String::new();
    // Each round reads the holder; a failed one is taken over by compare-and-set. Lost, another
    // new order took the slot first (two gateways on PostgreSQL): read again, so that the
    // order held names that payment, not the failed one it replaced — a reviewer who saw the
    // failed one would release the order while the other is paid.
    for _ in 0..SLOT_ROUNDS {
        let holder = sqlx::query(
            "SELECT g.payment_id, p.state FROM beneficiary_periods g JOIN payments p ON p.payment_id = g.payment_id \
             WHERE g.beneficiary_id = $1 AND g.program = $2 AND g.period = $3 AND g.payment_type = $4",
        )
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .bind(key.3)
        .fetch_one(&mut *transaction)
        .await?;
        holder_id = holder.try_get("payment_id")?;
        let holder_state: String = holder.try_get("state")?;
        // A payment that failed or was rejected paid nothing: a new order may take its place.
        if holder_state != PaymentState::Failed.as_str() && holder_state != PaymentState::Rejected.as_str() {
            break;
        }
        let taken = sqlx::query(
            "UPDATE beneficiary_periods SET payment_id = $1 WHERE beneficiary_id = $2 AND program = $3 \
             AND period = $4 AND payment_type = $5 AND payment_id = $6",
        )
        .bind(payment_id)
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .bind(key.3)
        .bind(&holder_id)
        .execute(&mut *transaction)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
    }
    Ok(Some(holder_id))
}

/// How many times a claim reads a contested slot again after losing it to another new order.
/// The slot changes hands only to a live payment or from a failed one, so a second read finds
/// a live holder unless that one failed in between; past this the order is held, naming the
/// last holder read.
const SLOT_ROUNDS: usize = 3;
