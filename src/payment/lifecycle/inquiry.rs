//! What a provider's answer to a question means: a status inquiry about an unknown outcome,
//! a poll of a pending payment, an inquiry about a payment in review.

use gateway_adapter::{AdapterError, ProviderStatus};

use super::{after_status, Policy};
use crate::payment::PaymentState;
use crate::store::{Change, Inquiries, PaymentRecord};

/// A status inquiry answered. "Not found" means the provider never received the request: it
/// is sent again with the same key while attempts remain. After the last attempt it fails
/// only a payment that never left; a status endpoint can lag behind a queued request, so for
/// a sent one "not found" is no proof that nothing will be paid.
pub(super) fn after_inquiry(record: &PaymentRecord, status: ProviderStatus, policy: &Policy, now_ms: i64) -> Change {
    let ProviderStatus::NotFound = status else {
        return after_status(status, "status inquiry answered", policy, now_ms);
    };
    let attempts = record.attempts;
    if attempts < policy.max_attempts {
        return Change {
            count_attempt: true,
            inquiries: Inquiries::Reset,
            wallet_month: super::sent_again_in(record, now_ms),
            ..Change::to(
                PaymentState::Submitting,
                "the provider never received it; resending with the same key",
            )
            .at(now_ms + policy.lease_ms as i64)
        };
    }
    if record.submitted_at.is_none() {
        return Change {
            dead_letter: Some("retries_exhausted"),
            ..Change::to(PaymentState::Failed, "attempts ran out before anything was sent").reason(
                "retries_exhausted",
                format!("the provider could not be reached in {attempts} attempts; nothing was sent"),
            )
        };
    }
    Change {
        dead_letter: Some("unknown_outcome"),
        ..Change::to(PaymentState::NeedsReview, "the provider has no record after the last attempt").reason(
            "unknown_outcome",
            format!(
                "the provider has no record after {attempts} attempts, but an earlier request may still be booked; check with the provider before paying again"
            ),
        )
    }
}

/// A status inquiry that failed: asked again later (backing off from `inquiry_delay_ms`),
/// until `max_inquiries` have failed and a person must look.
pub(super) fn inquiry_failed(record: &PaymentRecord, error: &AdapterError, policy: &Policy, now_ms: i64) -> Change {
    let inquiries = record.inquiries + 1;
    let detail = format!("status inquiry failed: {error}");
    if inquiries >= policy.max_inquiries {
        return Change {
            dead_letter: Some("unknown_outcome"),
            inquiries: Inquiries::Increment,
            ..Change::to(PaymentState::NeedsReview, detail).reason(
                "unknown_outcome",
                format!("the outcome is still unknown after {inquiries} status inquiries; check with the provider before paying again"),
            )
        };
    }
    Change {
        inquiries: Inquiries::Increment,
        ..Change::to(PaymentState::Unknown, detail).at(now_ms + policy.backoff_ms(inquiries, policy.inquiry_delay_ms))
    }
}

/// A pending poll answered, or failed. Each poll that finds nothing new waits twice as long,
/// up to 64 times the first wait, so a provider slow for a day is not asked 170,000 times a
/// minute; past `pending_max_age_ms` the payment needs a person, not more polls.
pub(super) fn after_poll(
    record: &PaymentRecord,
    answer: Result<ProviderStatus, AdapterError>,
    policy: &Policy,
    now_ms: i64,
) -> Change {
    let next_poll = now_ms + policy.pending_poll_after_ms as i64 * backoff_factor(record);
    let still_pending = |detail: String| {
        if pending_too_long(record, policy, now_ms) {
            too_long(&detail, policy)
        } else {
            Change {
                inquiries: Inquiries::Increment,
                ..Change::to(PaymentState::Pending, detail).at(next_poll)
            }
        }
    };
    match answer {
        Ok(ProviderStatus::NotFound) => {
            Change::to(PaymentState::NeedsReview, "the provider lost a payment it had accepted").reason(
                "provider_lost_payment",
                "the provider accepted this payout earlier but now has no record of it",
            )
        }
        Ok(ProviderStatus::Pending { .. }) => still_pending("pending poll: still pending".to_string()),
        Ok(status) => after_status(status, "pending poll answered", policy, now_ms),
        Err(error) => still_pending(format!("pending poll failed: {error}")),
    }
}

/// Whether a pending payment has waited longer than `pending_max_age_ms` since it was sent.
pub(super) fn pending_too_long(record: &PaymentRecord, policy: &Policy, now_ms: i64) -> bool {
    let pending_since = record.submitted_at.unwrap_or(record.created_at);
    now_ms.saturating_sub(pending_since) > policy.pending_max_age_ms as i64
}

/// A payment pending too long goes to review (and is asked about there).
pub(super) fn too_long(detail: &str, policy: &Policy) -> Change {
    let days = policy.pending_max_age_ms as f64 / 86_400_000.0;
    Change::to(PaymentState::NeedsReview, format!("{detail}; pending too long")).reason(
        "pending_too_long",
        format!("the provider has not finished this payout {days:.1} days after it was sent; check with the provider"),
    )
}

/// An inquiry about a sent payment in `needs_review`: a definite final answer settles it (the
/// event log keeps why it was in review); anything else leaves it there, with its reason, and
/// asks again later, twice as late each time.
pub(super) fn after_review(
    record: &PaymentRecord,
    answer: Result<ProviderStatus, AdapterError>,
    policy: &Policy,
    now_ms: i64,
) -> Change {
    let in_review = record.reason_code.as_deref().unwrap_or("no reason recorded");
    let settles = |to: PaymentState, what: &str| {
        Change::to(
            to,
            format!("status inquiry settles a payment in review ({in_review}): {what}"),
        )
    };
    let answer = match answer {
        Ok(ProviderStatus::Succeeded { provider_ref }) => {
            return Change {
                provider_ref,
                ..settles(PaymentState::Succeeded, "succeeded")
            };
        }
        Ok(ProviderStatus::Failed { code, reason }) => {
            return settles(PaymentState::Failed, "failed").reason(code, reason);
        }
        Ok(ProviderStatus::Pending { .. }) => "still pending".to_string(),
        Ok(ProviderStatus::NotFound) => "no record".to_string(),
        Err(error) => format!("inquiry failed: {error}"),
    };
    Change {
        reason_code: record.reason_code.clone(),
        reason: record.reason.clone(),
        inquiries: Inquiries::Increment,
        ..Change::to(PaymentState::NeedsReview, format!("review inquiry: {answer}"))
            .at(now_ms + policy.review_inquiry_after_ms as i64 * backoff_factor(record))
    }
}

/// 1, 2, 4 … 64: how much later than the first wait the next question comes.
fn backoff_factor(record: &PaymentRecord) -> i64 {
    1_i64 << record.inquiries.clamp(0, 6)
}
