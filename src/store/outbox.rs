//! The outbox: result messages and dead letters written in the same transaction as the
//! state change they report, then published by the relay with publisher confirms.

use sqlx::{Any, Row, Transaction};

use super::{now_ms, Store, StoredProperties};
use crate::payment::ResultMessage;

/// Where an outbox row goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// To the results exchange, with the row's routing key.
    Result,
    /// To the dead-letter queue, with the original order's bytes and properties.
    DeadLetter,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Result => "result",
            OutboxKind::DeadLetter => "dead_letter",
        }
    }
}

/// One message waiting to be published.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: OutboxKind,
    pub routing_key: String,
    pub properties: StoredProperties,
    pub body: Vec<u8>,
}

/// Queues a result message.
pub(super) async fn insert_result(
    transaction: &mut Transaction<'static, Any>,
    message: &ResultMessage,
) -> Result<(), sqlx::Error> {
    let body = serde_json::to_vec(message).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let properties = StoredProperties {
        content_type: Some("application/json".to_string()),
        message_id: Some(format!("{}:{}", message.order_id, message.seq)),
        correlation_id: Some(message.order_id.clone()),
        headers: Default::default(),
    };
    insert(
        transaction,
        OutboxKind::Result,
        message.payment_id.as_deref(),
        &message.routing_key(),
        &properties,
        &body,
    )
    .await
}

/// Queues a dead letter: the original bytes and properties plus the gateway's headers.
pub(super) async fn insert_dead_letter(
    transaction: &mut Transaction<'static, Any>,
    payment_id: Option<&str>,
    raw_message: &[u8],
    properties: &StoredProperties,
) -> Result<(), sqlx::Error> {
    insert(
        transaction,
        OutboxKind::DeadLetter,
        payment_id,
        "",
        properties,
        raw_message,
    )
    .await
}

async fn insert(
    transaction: &mut Transaction<'static, Any>,
    kind: OutboxKind,
    payment_id: Option<&str>,
    routing_key: &str,
    properties: &StoredProperties,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind.as_str())
    .bind(payment_id.map(str::to_string))
    .bind(routing_key)
    .bind(properties.to_json())
    .bind(body.to_vec())
    .bind(now_ms())
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Queues again the latest result of a payment, for a duplicate delivery of its order.
pub(super) async fn republish_latest_result(
    transaction: &mut Transaction<'static, Any>,
    payment_id: &str,
) -> Result<bool, sqlx::Error> {
    let latest = sqlx::query(
        "SELECT routing_key, headers, body FROM outbox WHERE payment_id = $1 AND kind = 'result' ORDER BY id DESC LIMIT 1",
    )
    .bind(payment_id)
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(row) = latest else { return Ok(false) };
    let routing_key: String = row.try_get("routing_key")?;
    let headers: String = row.try_get("headers")?;
    let body: Vec<u8> = row.try_get("body")?;
    insert(
        transaction,
        OutboxKind::Result,
        Some(payment_id),
        &routing_key,
        &StoredProperties::from_json(&headers),
        &body,
    )
    .await?;
    Ok(true)
}

impl Store {
    /// The oldest messages not yet confirmed by the broker, in the order they were written.
    pub async fn unpublished(&self, limit: i64) -> Result<Vec<OutboxRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, routing_key, headers, body FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let headers: String = row.try_get("headers")?;
                Ok(OutboxRow {
                    id: row.try_get("id")?,
                    kind: if kind == "result" {
                        OutboxKind::Result
                    } else {
                        OutboxKind::DeadLetter
                    },
                    routing_key: row.try_get("routing_key")?,
                    properties: StoredProperties::from_json(&headers),
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }

    /// Marks rows the broker confirmed.
    pub async fn mark_published(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (2..ids.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE outbox SET published_at = $1 WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now_ms());
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(self.pool()).await?;
        Ok(())
    }

    /// How many messages wait to be published (for metrics and the demo's progress).
    pub async fn unpublished_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(self.pool())
            .await
    }
}
