//! What a failed provider call means: by its class, by whether the payment may have left, and
//! for a `circuit_open` refusal, by nothing but the time the breaker asks to wait.

use std::time::Duration;

use gateway_adapter::AdapterError;

use super::{inquiry, Policy, Step};
use crate::payment::PaymentState;
use crate::store::{Change, PaymentRecord};

/// A failed check or submit, by its class. Only a submit can have reached the provider (the
/// payment is then `submitting`); a name inquiry pays nothing.
pub(super) fn after_error(
    record: &PaymentRecord,
    error: AdapterError,
    context: &str,
    policy: &Policy,
    now_ms: i64,
) -> Change {
    let may_have_been_sent = matches!(record.state, PaymentState::Submitting | PaymentState::Unknown);
    let inquire_at = now_ms + policy.inquiry_delay_ms as i64;
    match error {
        // A bare HTTP refusal after an attempt that may have been booked (a 5xx, a timeout):
        // not the provider's word about this payment, so it is asked about, never failed on.
        AdapterError::Permanent { code, message }
            if may_have_been_sent && record.attempts > 1 && provider_http::reason::is_http_status(&code) =>
        {
            Change::to(
                PaymentState::Unknown,
                format!("{context}: {code} after an earlier attempt"),
            )
            .reason(
                "unknown_outcome",
                format!("{message} An earlier attempt may have been booked: a status inquiry settles it."),
            )
            .at(inquire_at)
        }
        AdapterError::Permanent { code, message } => {
            Change::to(PaymentState::Failed, format!("{context} refused permanently")).reason(code, message)
        }
        AdapterError::UnknownOutcome { message } if may_have_been_sent => {
            Change::to(PaymentState::Unknown, format!("{context}: outcome unknown"))
                .reason("unknown_outcome", message)
                .at(inquire_at)
        }
        // Out of attempts: ask before failing, since a 5xx may have been booked.
        AdapterError::Transient { code, message, .. }
            if may_have_been_sent && record.attempts >= policy.max_attempts =>
        {
            Change::to(PaymentState::Unknown, format!("{context}: {code} on the last attempt"))
                .reason("retries_exhausted", message)
                .at(inquire_at)
        }
        AdapterError::Transient {
            code,
            message,
            retry_after,
        } if may_have_been_sent => {
            let delay = policy.transient_delay_ms(record.attempts, retry_after);
            Change::to(PaymentState::RetryScheduled, format!("{context}: {code}"))
                .reason(code, message)
                .at(now_ms + delay)
        }
        // A name inquiry that failed or timed out: nothing was sent.
        AdapterError::Transient {
            code,
            message,
            retry_after,
        } => before_send_failure(record, (code, message), retry_after, context, policy, now_ms),
        AdapterError::UnknownOutcome { message } => before_send_failure(
            record,
            ("provider_timeout".into(), message),
            None,
            context,
            policy,
            now_ms,
        ),
    }
}

/// A retryable failure before the submit: counted as an attempt. When attempts run out, a
/// payment that was never submitted fails; one that was is inquired first.
fn before_send_failure(
    record: &PaymentRecord,
    (code, message): (String, String),
    retry_after: Option<Duration>,
    context: &str,
    policy: &Policy,
    now_ms: i64,
) -> Change {
    let attempts = record.attempts + 1;
    let last = format!("{context}: {code} on the last attempt");
    let change = if attempts < policy.max_attempts {
        let delay = policy.transient_delay_ms(attempts, retry_after);
        Change::to(PaymentState::RetryScheduled, format!("{context}: {code}"))
            .reason(code, message)
            .at(now_ms + delay)
    } else if record.submitted_at.is_none() {
        Change {
            dead_letter: Some("retries_exhausted"),
            ..Change::to(PaymentState::Failed, last).reason(
                "retries_exhausted",
                format!("the provider could not be reached after {attempts} attempts: {message}"),
            )
        }
    } else {
        Change::to(PaymentState::Unknown, last)
            .reason("retries_exhausted", message)
            .at(now_ms + policy.inquiry_delay_ms as i64)
    };
    Change {
        count_attempt: true,
        ..change
    }
}

/// The provider's circuit breaker refused the call (`code` `circuit_open`), or no call permit
/// came in time to answer within the lease (`call_not_made`), so nothing left: no attempt and no
/// inquiry is counted, nothing fails, and the payment says no more about having been sent
/// than its state already did. It is looked at again when the breaker asks (`retry_after`).
/// Only the age rule still applies: a payment pending too long goes to review either way.
pub(super) fn circuit_open(
    record: &PaymentRecord,
    step: Step,
    (code, message): (&str, String),
    retry_after: Option<Duration>,
    policy: &Policy,
    now_ms: i64,
) -> Change {
    let at = now_ms + policy.circuit_open_delay_ms(record.attempts, retry_after);
    let what = match step {
        Step::Checks => "name inquiry",
        Step::Submit => "submit",
        Step::Resubmit => "resubmit",
        Step::StatusInquiry => "status inquiry",
        Step::PendingPoll => "pending poll",
        Step::ReviewInquiry => "review inquiry",
    };
    let detail = format!("{what} not sent: {code}");
    match step {
        // Back to the queue; `lifecycle::submitting` gives the refused submit's attempt back.
        Step::Checks | Step::Submit | Step::Resubmit => Change::to(PaymentState::RetryScheduled, detail)
            .reason(code, message)
            .at(at),
        Step::StatusInquiry => Change::to(PaymentState::Unknown, detail).reason(code, message).at(at),
        Step::PendingPoll if inquiry::pending_too_long(record, policy, now_ms) => inquiry::too_long(&detail, policy),
        Step::PendingPoll => Change::to(PaymentState::Pending, detail).at(at),
        Step::ReviewInquiry => Change {
            reason_code: record.reason_code.clone(),
            reason: record.reason.clone(),
            ..Change::to(PaymentState::NeedsReview, detail).at(at)
        },
    }
}
