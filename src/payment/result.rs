//! The result message contract v1, published on `payments.results`.

use serde::{Deserialize, Serialize};

/// The statuses upstream sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Accepted,
    Pending,
    Succeeded,
    Failed,
    Rejected,
    NeedsReview,
    /// The provider sent a succeeded payout back (found by `gateway reconcile` on its
    /// statement): final, with a higher `seq` than the `succeeded` result it supersedes.
    Returned,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Accepted => "accepted",
            ResultStatus::Pending => "pending",
            ResultStatus::Succeeded => "succeeded",
            ResultStatus::Failed => "failed",
            ResultStatus::Rejected => "rejected",
            ResultStatus::NeedsReview => "needs_review",
            ResultStatus::Returned => "returned",
        }
    }

    /// Exactly one result per order is final, except a `returned` result, which comes after
    /// the final `succeeded` one and supersedes it (the highest final `seq` stands).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ResultStatus::Succeeded | ResultStatus::Failed | ResultStatus::Rejected | ResultStatus::Returned
        )
    }
}

/// One result message. Upstream deduplicates by `order_id` + `seq`: a crash between the
/// store commit and the publish confirm sends the same message again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultMessage {
    /// Upstream's order id; empty when the order was too malformed to carry one and the
    /// AMQP `message_id` was missing too.
    pub order_id: String,
    /// The gateway's deterministic id, also the provider idempotency key; `null` for orders
    /// rejected before they were claimed.
    pub payment_id: Option<String>,
    pub status: ResultStatus,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Per order, increasing with each published state change.
    pub seq: i64,
    pub channel: Option<String>,
    /// Whole đồng.
    pub amount: Option<u64>,
    pub provider_ref: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// Submission attempts made so far.
    pub attempts: i64,
    /// RFC 3339, UTC.
    pub occurred_at: String,
}

impl ResultMessage {
    /// The routing key on the results exchange: `result.<channel>.<status>`.
    pub fn routing_key(&self) -> String {
        format!(
            "result.{}.{}",
            self.channel.as_deref().unwrap_or("unknown"),
            self.status.as_str()
        )
    }
}
