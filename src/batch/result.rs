//! The batch result contract v1, published on `payments.results` with routing key
//! `batch.<status>`: one per closed batch, and one `batch.rejected` per invalid manifest.

use serde::{Deserialize, Serialize};

use super::check::{BatchCheck, BatchStatus, Difference, Tally};

/// Why a batch closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    /// Every declared order has a final result.
    Complete,
    /// The deadline passed first.
    Deadline,
}

/// The result of a closed batch. `message_id` is `batch:<batch_id>`: one per batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    pub batch_id: String,
    /// `balanced`, `unbalanced` or `expired`.
    pub status: BatchStatus,
    pub closed_by: ClosedBy,
    pub program: String,
    pub period: String,
    pub commune_code: String,
    /// The manifest's order count and total.
    pub declared: Tally,
    /// Claimed orders of the batch and their sum; split by outcome below.
    pub received: Tally,
    pub succeeded: Tally,
    pub failed: Tally,
    pub rejected: Tally,
    pub in_progress: Tally,
    /// Declared orders refused as invalid, at their declared amounts.
    pub invalid: Tally,
    /// Declared orders with a final result when the batch closed.
    pub final_orders: u64,
    pub differences: Vec<Difference>,
    /// RFC 3339, UTC.
    pub closed_at: String,
}

/// What a closed batch is, apart from its check.
#[derive(Clone, Debug)]
pub struct BatchHeader<'a> {
    pub batch_id: &'a str,
    pub program: &'a str,
    pub period: &'a str,
    pub commune_code: &'a str,
}

impl BatchResult {
    /// The result of a batch closing now with `check` (computed with `closing` true).
    pub fn new(header: &BatchHeader<'_>, check: &BatchCheck, closed_by: ClosedBy, closed_at_ms: i64) -> Self {
        Self {
            batch_id: header.batch_id.to_string(),
            status: check.closing_status(),
            closed_by,
            program: header.program.to_string(),
            period: header.period.to_string(),
            commune_code: header.commune_code.to_string(),
            declared: check.declared,
            received: check.received,
            succeeded: check.succeeded,
            failed: check.failed,
            rejected: check.rejected,
            in_progress: check.in_progress,
            invalid: check.invalid,
            final_orders: check.final_orders,
            differences: check.differences.clone(),
            closed_at: rfc3339(closed_at_ms),
        }
    }

    /// `batch.<status>`.
    pub fn routing_key(&self) -> String {
        format!("batch.{}", self.status.as_str())
    }
}

/// The answer to an invalid manifest (routing key `batch.rejected`); its dead letter
/// (`invalid`) carries the original bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRejection {
    /// The batch id as far as it could be read (cut to 64 characters), else empty.
    pub batch_id: String,
    /// Always `rejected`.
    pub status: String,
    pub reason_code: String,
    pub reason: String,
    pub occurred_at: String,
}

/// The routing key of a [`BatchRejection`].
pub const REJECTED_ROUTING_KEY: &str = "batch.rejected";

/// Milliseconds since 1970 as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
