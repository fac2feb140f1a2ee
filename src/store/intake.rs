//! The durable claim of an incoming order, and the record of a rejected one.
//!
//! Both happen in one transaction with their outbox rows; the consumer acks the delivery
//! only after that transaction committed.

use gateway_adapter::Invalid;
use sqlx::{AnyConnection, Row};

use super::appends::Appends;
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
        let claim = std::sync::Arc::new((
            order.clone(),
            provider.to_string(),
            raw_message.to_vec(),
            properties.clone(),
        ));
        // Routed by order id, like a rejection of the same order id, so a valid and an invalid
        // copy arriving together are serialised and cannot both take seq 1.
        self.write(order.order_id.as_str(), move |connection, appends| {
            let claim = claim.clone();
            Box::pin(async move {
                let (order, provider, raw_message, properties) = &*claim;
                claim_in(connection, appends, order, provider, raw_message, properties, policy).await
            })
        })
        .await
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
        let rejected = std::sync::Arc::new((
            rejection.order_id.clone(),
            message,
            raw_message.to_vec(),
            properties.clone(),
            detail,
        ));
        self.write(&rejection.order_id, move |connection, appends| {
            let rejected = rejected.clone();
            Box::pin(async move {
                let (order_id, message, raw_message, properties, detail) = &*rejected;
                reject_in(connection, appends, order_id, message, raw_message, properties, detail).await
            })
        })
        .await
    }
}

/// The rejection inside a transaction (see [`Store::reject`]).
async fn reject_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    order_id: &str,
    message: &ResultMessage,
    raw_message: &[u8],
    properties: &StoredProperties,
    detail: &str,
) -> Result<(), sqlx::Error> {
    // An order id that already has a payment keeps that payment's results: a broken copy
    // of it is dead-lettered, but answering it `rejected` would give the order a second
    // final result.
    let claimed = !order_id.is_empty()
        && sqlx::query("SELECT 1 FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *transaction)
            .await?
            .is_some();
    if !claimed {
        insert_result(appends, message)?;
        if !order_id.is_empty() {
            sqlx::query("INSERT INTO rejected_orders (order_id, rejected_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(order_id)
                .bind(now_ms())
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

/// The claim inside a transaction (see [`Store::claim`]).
async fn claim_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    order: &PaymentOrder,
    provider: &str,
    raw_message: &[u8],
    properties: &StoredProperties,
    policy: DuplicatePaymentPolicy,
) -> Result<ClaimOutcome, sqlx::Error> {
    let payment_id = payment_id_for(order.idempotency_key.as_str()).to_string();
    let fingerprint = order.fingerprint();
    let order_json = serde_json::to_string(order).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let now = now_ms();
    // Claimed as `accepted`, due now; a corrected order whose first version was rejected
    // continues after that result (`seq` 2). One statement: the guard below rarely changes it.
    let inserted = sqlx::query(&format!(
        "INSERT INTO payments (payment_id, idempotency_key, order_id, fingerprint, channel, provider, amount, \
         batch_id, commune_code, order_json, raw_message, raw_properties, state, created_at, updated_at, \
         next_attempt_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'accepted', $13, $13, $13, \
         1 + (SELECT COUNT(*) FROM rejected_orders WHERE order_id = $3)) \
         ON CONFLICT DO NOTHING RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind(&payment_id)
    .bind(order.idempotency_key.as_str())
    .bind(order.order_id.as_str())
    .bind(&fingerprint)
    .bind(order.channel().as_str())
    .bind(provider)
    .bind(order.amount.as_i64())
    .bind(order.batch_id.as_str())
    .bind(order.beneficiary.commune_code.as_str())
    .bind(&order_json)
    .bind(raw_message.to_vec())
    .bind(properties.to_json())
    .bind(now)
    .fetch_optional(&mut *transaction)
    .await?;

    let Some(inserted) = inserted else {
        // Either the idempotency key or the order id is taken (both are unique).
        let existing = sqlx::query(
            "SELECT payment_id, fingerprint, idempotency_key FROM payments WHERE idempotency_key = $1 OR order_id = $2 \
             ORDER BY CASE WHEN idempotency_key = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(order.idempotency_key.as_str())
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

    let mut record = PaymentRecord::from_row(&inserted)?;
    let (reason_code, reason) = match guard_beneficiary_period(transaction, order, &payment_id).await? {
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
            .bind(&payment_id)
            .fetch_one(&mut *transaction)
            .await?;
            record = PaymentRecord::from_row(&row)?;
            (Some(POSSIBLE_DUPLICATE_PAYMENT), reason)
        }
    };
    let state = record.state;
    record_event(appends, &payment_id, None, state, reason_code, &reason);
    if let Some(message) = record.result_message() {
        insert_result(appends, &message)?;
    }
    Ok(ClaimOutcome::Claimed { payment_id, state })
}

/// The reason code of a payment held because its beneficiary already has one for the same
/// program, period and payment type.
const POSSIBLE_DUPLICATE_PAYMENT: &str = "possible_duplicate_payment";

/// Takes the (beneficiary, program, period, payment type) slot for this payment. Returns
/// the other payment's id when one that has not failed already holds it.
async fn guard_beneficiary_period(
    transaction: &mut AnyConnection,
    order: &PaymentOrder,
    payment_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let key = (
        order.beneficiary.id.as_str(),
        order.program.as_str(),
        order.period.to_string(),
        order.payment_type.as_str(),
    );
    let taken = sqlx::query(
        "INSERT INTO beneficiary_periods (beneficiary_id, program, period, payment_type, payment_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(key.0)
    .bind(key.1)
    .bind(&key.2)
    .bind(key.3)
    .bind(payment_id)
    .execute(&mut *transaction)
    .await?;
    if taken.rows_affected() == 1 {
        return Ok(None);
    }
    let holder = sqlx::query(
        "SELECT g.payment_id, p.state FROM beneficiary_periods g JOIN payments p ON p.payment_id = g.payment_id \
         WHERE g.beneficiary_id = $1 AND g.program = $2 AND g.period = $3 AND g.payment_type = $4",
    )
    .bind(key.0)
    .bind(key.1)
    .bind(&key.2)
    .bind(key.3)
    .fetch_one(&mut *transaction)
    .await?;
    let holder_id: String = holder.try_get("payment_id")?;
    let holder_state: String = holder.try_get("state")?;
    // A payment that failed or was rejected paid nothing: a new order may take its place.
    if holder_state == PaymentState::Failed.as_str() || holder_state == PaymentState::Rejected.as_str() {
        // Compare-and-set on the holder: of two new orders racing for a failed holder's
        // slot (two gateways on PostgreSQL), only one takes it.
        let taken = sqlx::query(
            "UPDATE beneficiary_periods SET payment_id = $1 WHERE beneficiary_id = $2 AND program = $3 \
             AND period = $4 AND payment_type = $5 AND payment_id = $6",
        )
        .bind(payment_id)
        .bind(key.0)
        .bind(key.1)
        .bind(&key.2)
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
