//! What a verified provider callback does to a payment, decided apart from any I/O.
//!
//! The rules, in order:
//! - A *final* answer (succeeded, failed) must carry the payment's exact amount; one without
//!   an amount, or with another, is a contradiction and never settles anything.
//! - A final payment never changes. A callback that agrees with it changes nothing; one that
//!   reverses it (failed or returned after succeeded, succeeded after failed) or reports
//!   another amount is a [`CallbackDecision::Reverse`]: upstream and ops are told.
//! - A payment in `needs_review` is settled by a consistent final answer for a payment that
//!   was sent; the event log keeps why it was in review.
//! - A payment that was never sent cannot be reported on: that is a contradiction too.

use gateway_adapter::{CallbackEvent, ProviderStatus};

use super::PaymentState;
use crate::store::{CallbackDecision, Change, Inquiries, PaymentRecord};

/// When the dispatcher should look at a payment next, after a callback moved it.
#[derive(Clone, Copy, Debug)]
pub struct CallbackTimes {
    /// A payment a callback marks pending is polled at this time (callbacks get lost).
    pub poll_at: i64,
    /// A payment a callback sends to `needs_review` is asked about again at this time.
    pub review_at: i64,
}

/// Decides what `event` does to `record`.
pub fn decide(record: &PaymentRecord, event: &CallbackEvent, times: CallbackTimes) -> CallbackDecision {
    let settles = matches!(
        event.status,
        ProviderStatus::Succeeded { .. } | ProviderStatus::Failed { .. }
    );
    let amount_agrees = event.amount.is_some_and(|amount| amount.as_i64() == record.amount);
    let amount_differs = event.amount.is_some_and(|amount| amount.as_i64() != record.amount);
    if record.state.is_final() {
        return decide_on_final(record, event, amount_agrees, amount_differs);
    }
    let contradiction = |why: &str| {
        let change = Change::to(PaymentState::NeedsReview, format!("callback {}: {why}", event.event_id)).reason(
            "callback_contradicts_record",
            format!("a verified provider callback contradicts the gateway's record: {why}"),
        );
        // A new reason to look: the review's inquiries start over, as the dispatcher's do.
        let change = Change {
            inquiries: Inquiries::Reset,
            ..change
        };
        CallbackDecision::Apply(match record.submitted_at {
            Some(_) => change.at(times.review_at),
            None => change,
        })
    };
    if amount_differs {
        return contradiction("the amount differs from the order");
    }
    if settles && !amount_agrees {
        return contradiction("a final answer without the payment's amount");
    }
    let target = match &event.status {
        ProviderStatus::Succeeded { .. } => PaymentState::Succeeded,
        ProviderStatus::Failed { .. } => PaymentState::Failed,
        ProviderStatus::Pending { .. } => match record.state {
            // Nothing new, and a review is not ended by "still processing".
            PaymentState::Pending | PaymentState::NeedsReview => return CallbackDecision::Ignore,
            _ => PaymentState::Pending,
        },
        ProviderStatus::NotFound => return CallbackDecision::Ignore,
    };
    if record.submitted_at.is_none() || !record.state.can_become(target) {
        return contradiction("the provider reports on a payment that was never sent");
    }
    let detail = if record.state == PaymentState::NeedsReview {
        format!(
            "callback {} settles a payment in review ({})",
            event.event_id,
            record.reason_code.as_deref().unwrap_or("no reason recorded")
        )
    } else {
        format!("callback {}", event.event_id)
    };
    CallbackDecision::Apply(match &event.status {
        ProviderStatus::Succeeded { provider_ref } => Change {
            provider_ref: provider_ref.clone(),
            ..Change::to(target, detail)
        },
        ProviderStatus::Failed { code, reason } => Change::to(target, detail).reason(code.clone(), reason.clone()),
        // Polled from the first delay on, as after a submit or inquiry that answered pending.
        ProviderStatus::Pending { provider_ref } => Change {
            provider_ref: provider_ref.clone(),
            inquiries: Inquiries::Reset,
            ..Change::to(target, detail).at(times.poll_at)
        },
        ProviderStatus::NotFound => return CallbackDecision::Ignore,
    })
}

/// A callback for a payment that is already final: it agrees, it only lacks an amount (a note
/// in the event log), or it reverses the payment (upstream and ops must act).
fn decide_on_final(
    record: &PaymentRecord,
    event: &CallbackEvent,
    amount_agrees: bool,
    amount_differs: bool,
) -> CallbackDecision {
    let status_agrees = matches!(
        (&event.status, record.state),
        (ProviderStatus::Succeeded { .. }, PaymentState::Succeeded)
            | (ProviderStatus::Failed { .. }, PaymentState::Failed)
    );
    if status_agrees && amount_agrees {
        return CallbackDecision::Ignore;
    }
    let reported = status_name(&event.status);
    if status_agrees && !amount_differs {
        return CallbackDecision::Flag(format!(
            "callback {} repeats {reported} without the payment's amount; the payment stays {}",
            event.event_id, record.state
        ));
    }
    match event.status {
        ProviderStatus::Pending { .. } | ProviderStatus::NotFound => CallbackDecision::Flag(format!(
            "callback {} reports {reported} on a {} payment; the payment stays as it is",
            event.event_id, record.state
        )),
        ProviderStatus::Succeeded { .. } | ProviderStatus::Failed { .. } => {
            let what = if status_agrees {
                format!("{reported} for another amount")
            } else {
                reported.to_string()
            };
            CallbackDecision::Reverse(format!(
                "callback {} reports {what} on a {} payment; check with the provider before anything else is paid or reported",
                event.event_id, record.state
            ))
        }
    }
}

fn status_name(status: &ProviderStatus) -> &'static str {
    match status {
        ProviderStatus::Pending { .. } => "pending",
        ProviderStatus::Succeeded { .. } => "succeeded",
        ProviderStatus::Failed { .. } => "failed",
        ProviderStatus::NotFound => "not found",
    }
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
