//! What happens to a payment after each thing the dispatcher does, decided apart from any I/O.
//!
//! The dispatcher (`dispatcher/step.rs`) asks [`plan`] what a due payment needs, does that one
//! piece of I/O (the checks, a submit, a status inquiry) and hands the answer to [`next`], which
//! says what the store records. Both are pure: the clock and the jitter come in as arguments,
//! so `lifecycle_tests.rs` tests every state × outcome as a table, and
//! `lifecycle/properties_tests.rs` checks the rules below over every kind of record. The rules:
//! - `submitting` is committed *before* a submit goes out: a [`Change`] to `submitting` (from
//!   [`plan`] or [`next`]) tells the dispatcher to commit it, then send.
//! - Anything that may have reached the provider is resolved by a status inquiry, never by a
//!   blind resend or a guess that it failed; a resend only follows the provider's "not found",
//!   with the same idempotency key.
//! - Only a payment that provably never left fails `retries_exhausted`. A sent one that runs
//!   out of attempts or inquiries goes to `needs_review` with the dead letter `unknown_outcome`.
//! - A sent payment entering `needs_review` is asked about again after
//!   `review_inquiry_after_ms`, so a definite answer settles it without a person.
//! - A `Retry-After` is honoured up to `backoff_max_ms`, never longer.
//! - A `circuit_open` refusal (the provider's circuit breaker; nothing left) is no attempt and
//!   no inquiry: the payment waits for the breaker's `retry_after` and is never failed for it.
//!   A submit it refused gives back, at the next submit, the attempt counted before it. So
//!   does a submit committed but not sent because no call permit came in time to answer within
//!   the payment's lease ([`CALL_NOT_MADE`]).
//! - Final states never change: [`plan`] has nothing for them ([`PaymentState::can_become`]).

use gateway_adapter::money::format_dong;
use gateway_adapter::protection::CIRCUIT_OPEN;
use gateway_adapter::{AdapterError, Destination, ProviderStatus};

use super::PaymentState;
use crate::store::{Change, Inquiries, PaymentRecord};

/// The reason code of a submit committed (`submitting`) but not sent: no call permit of the
/// provider came in time for an answer within the payment's lease. Nothing left, as with a
/// `circuit_open` refusal: the payment goes back to the queue and the attempt counted with it
/// is given back at the next submit (else each such turn spent an attempt, and one never sent
/// ended in review once they ran out).
pub const CALL_NOT_MADE: &str = "call_not_made";

mod delays;
mod failures;
mod inquiry;

pub use delays::Jitter;

/// The dispatcher settings the decisions need; `[dispatcher]` in the config says why each exists.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub max_attempts: i64,
    pub max_inquiries: i64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub inquiry_delay_ms: u64,
    pub pending_poll_after_ms: u64,
    pub pending_max_age_ms: u64,
    pub review_inquiry_after_ms: u64,
    /// How long a payment committed as `submitting` is held for its submit.
    pub lease_ms: u64,
    /// Spreads retries out; random in the dispatcher, fixed in tests.
    pub jitter: Jitter,
}

/// What the dispatcher just did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The checks before the first submit: the wallet's monthly limit and the name inquiry.
    Checks,
    /// A submit (the first, or a retry after a transient error).
    Submit,
    /// A resubmit, with the same key, after a status inquiry found no record.
    Resubmit,
    /// A status inquiry about a payment whose outcome is unknown (`submitting`, `unknown`).
    StatusInquiry,
    /// A poll of a payment pending long enough that its callback may be lost.
    PendingPoll,
    /// An inquiry about a sent payment in `needs_review`.
    ReviewInquiry,
}

impl Step {
    /// The submit that follows a change to `submitting` made after this step.
    pub fn submit_after(self) -> Step {
        match self {
            Step::StatusInquiry => Step::Resubmit,
            _ => Step::Submit,
        }
    }
}

/// What came back.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// What the provider said about the payout (submit or status inquiry).
    Status(ProviderStatus),
    /// The provider call failed, classified by the adapter.
    Error(AdapterError),
    /// The checks passed: the holder's name matches, or the channel has no name inquiry.
    Cleared,
    /// The name inquiry returned another holder name.
    NameMismatch,
    /// The wallet would receive more than `limit` đồng in `month`; nothing was sent.
    WalletLimit { month: String, limit: i64, already: i64 },
}

impl From<Result<ProviderStatus, AdapterError>> for Outcome {
    fn from(answer: Result<ProviderStatus, AdapterError>) -> Self {
        answer.map_or_else(Outcome::Error, Outcome::Status)
    }
}

impl Outcome {
    /// The final state the provider's answer states outright: succeeded or failed. A payment
    /// that something else settled otherwise meanwhile (a callback) is contradicted by it.
    pub fn provider_settles(&self) -> Option<PaymentState> {
        match self {
            Outcome::Status(ProviderStatus::Succeeded { .. }) => Some(PaymentState::Succeeded),
            Outcome::Status(ProviderStatus::Failed { .. }) => Some(PaymentState::Failed),
            _ => None,
        }
    }
}

/// What the dispatcher does with a payment that is due.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Run the checks, then [`next`] with [`Step::Checks`].
    Checks,
    /// Ask the provider (`query_status`), then [`next`] with this step.
    Ask(Step),
    /// Record this change without asking anything; a change to `submitting` is then submitted.
    Record(Change),
    /// Nothing to do in this state.
    Nothing,
}

/// What a due payment needs. The checks run once, before the first submit: after it the
/// provider may have booked the credit, so a retry only repeats the submit with the same key.
pub fn plan(record: &PaymentRecord, policy: &Policy, now_ms: i64) -> Plan {
    use PaymentState::*;
    let sent = record.submitted_at.is_some();
    match record.state {
        Accepted | RetryScheduled if !sent => Plan::Checks,
        Accepted | RetryScheduled => Plan::Record(submitting(record, policy, now_ms)),
        Submitting | Unknown => Plan::Ask(Step::StatusInquiry),
        Pending => Plan::Ask(Step::PendingPoll),
        NeedsReview if sent => Plan::Ask(Step::ReviewInquiry),
        // Never sent: nothing to ask the provider, a person decides.
        NeedsReview => Plan::Record(Change {
            reason_code: record.reason_code.clone(),
            reason: record.reason.clone(),
            ..Change::to(NeedsReview, "never sent: nothing to ask the provider")
        }),
        Succeeded | Failed | Rejected => Plan::Nothing,
    }
}

/// What the store records after `step` came back with `outcome`.
pub fn next(record: &PaymentRecord, step: Step, outcome: Outcome, policy: &Policy, now_ms: i64) -> Change {
    let change = match (step, outcome) {
        (
            _,
            Outcome::Error(AdapterError::Transient {
                code,
                message,
                retry_after,
            }),
        ) if code == CIRCUIT_OPEN || code == CALL_NOT_MADE => {
            failures::circuit_open(record, step, (&code, message), retry_after, policy, now_ms)
        }
        (Step::Checks, Outcome::Cleared) => submitting(record, policy, now_ms),
        (Step::Checks, Outcome::NameMismatch) => {
            Change::to(PaymentState::Failed, "name inquiry returned another holder name").reason(
                "name_mismatch",
                "the account holder's name at the provider does not match the beneficiary's name",
            )
        }
        (Step::Checks, Outcome::WalletLimit { month, limit, already }) => {
            Change::to(PaymentState::Failed, "refused before sending: wallet monthly limit").reason(
                "wallet_monthly_limit",
                format!(
                    "the wallet would receive more than {} ₫ in {month} ({} ₫ already reserved); nothing was sent",
                    format_dong(limit.max(0) as u64),
                    format_dong(already.max(0) as u64)
                ),
            )
        }
        (Step::Checks, Outcome::Error(error)) => failures::after_error(record, error, "name inquiry", policy, now_ms),
        (Step::Submit, Outcome::Status(status)) => after_status(status, "submit answered", policy, now_ms),
        (Step::Submit, Outcome::Error(error)) => failures::after_error(record, error, "submit", policy, now_ms),
        (Step::Resubmit, Outcome::Status(status)) => after_status(status, "resubmit answered", policy, now_ms),
        (Step::Resubmit, Outcome::Error(error)) => failures::after_error(record, error, "resubmit", policy, now_ms),
        (Step::StatusInquiry, Outcome::Status(status)) => inquiry::after_inquiry(record, status, policy, now_ms),
        (Step::StatusInquiry, Outcome::Error(error)) => inquiry::inquiry_failed(record, &error, policy, now_ms),
        (Step::PendingPoll, Outcome::Status(status)) => inquiry::after_poll(record, Ok(status), policy, now_ms),
        (Step::PendingPoll, Outcome::Error(error)) => inquiry::after_poll(record, Err(error), policy, now_ms),
        (Step::ReviewInquiry, Outcome::Status(status)) => inquiry::after_review(record, Ok(status), policy, now_ms),
        (Step::ReviewInquiry, Outcome::Error(error)) => inquiry::after_review(record, Err(error), policy, now_ms),
        (step, outcome) => unexpected(record, step, &outcome, policy, now_ms),
    };
    schedule_review(record, change, policy, now_ms)
}

/// A payment whose stored order no longer reads back (changed validation rules?) needs a person.
pub fn unreadable_order(record: &PaymentRecord, policy: &Policy, now_ms: i64) -> Change {
    let change = Change::to(PaymentState::NeedsReview, "the stored order cannot be read back").reason(
        "unreadable_stored_order",
        "the order stored for this payment no longer reads back (changed validation rules?); check it before paying",
    );
    schedule_review(record, change, policy, now_ms)
}

/// `submitting`, committed before the request goes out, held for one lease. It counts an
/// attempt, unless the last submit was refused by the circuit breaker: that one never left,
/// and its attempt was counted when it was committed.
fn submitting(record: &PaymentRecord, policy: &Policy, now_ms: i64) -> Change {
    let refused_unsent = record.state == PaymentState::RetryScheduled
        && record.submitted_at.is_some()
        && matches!(record.reason_code.as_deref(), Some(CIRCUIT_OPEN | CALL_NOT_MADE));
    Change {
        count_attempt: !refused_unsent,
        wallet_month: sent_again_in(record, now_ms),
        ..Change::to(PaymentState::Submitting, "submitting to the provider").at(now_ms + policy.lease_ms as i64)
    }
}

/// For a submit that repeats one already sent, the month (Vietnam time) it goes in now: its
/// wallet reservation, if any, moves there (see [`Change::wallet_month`]).
pub(super) fn sent_again_in(record: &PaymentRecord, now_ms: i64) -> Option<String> {
    record.submitted_at?;
    chrono::DateTime::from_timestamp_millis(now_ms).map(gateway_adapter::vietnam_time::month)
}

/// `change` for a payout to `destination`: its [`Change::wallet_month`] is kept only where the
/// payout holds a wallet reservation to move (a wallet, or a bank transfer into one, see
/// [`Destination::wallet`]). Elsewhere the store would write the change alone, outside the
/// batched changes, for an update that changes nothing, on every retry of a provider's outage.
pub fn for_destination(mut change: Change, destination: &Destination) -> Change {
    if destination.wallet().is_none() {
        change.wallet_month = None;
    }
    change
}

/// What a provider's answer about the payout means, after a submit or an inquiry.
fn after_status(status: ProviderStatus, context: &str, policy: &Policy, now_ms: i64) -> Change {
    match status {
        ProviderStatus::Succeeded { provider_ref } => Change {
            provider_ref,
            ..Change::to(PaymentState::Succeeded, format!("{context}: succeeded"))
        },
        ProviderStatus::Failed { code, reason } => {
            Change::to(PaymentState::Failed, format!("{context}: failed")).reason(code, reason)
        }
        ProviderStatus::Pending { provider_ref } => Change {
            provider_ref,
            inquiries: Inquiries::Reset,
            ..Change::to(PaymentState::Pending, format!("{context}: pending"))
                .at(now_ms + policy.pending_poll_after_ms as i64)
        },
        ProviderStatus::NotFound => Change::to(PaymentState::Unknown, format!("{context}: no record"))
            .at(now_ms + policy.inquiry_delay_ms as i64),
    }
}

/// An outcome this step cannot give (a dispatcher bug): a person looks, nothing is guessed.
/// A payment already in review stays there for its own reason and is asked about again.
fn unexpected(record: &PaymentRecord, step: Step, outcome: &Outcome, policy: &Policy, now_ms: i64) -> Change {
    let what = match outcome {
        Outcome::Status(_) => "a provider status",
        Outcome::Error(_) => "an error",
        Outcome::Cleared | Outcome::NameMismatch | Outcome::WalletLimit { .. } => "a check result",
    };
    let change = Change::to(PaymentState::NeedsReview, format!("{step:?} reported {what}"));
    if record.state != PaymentState::NeedsReview {
        return change.reason(
            "unexpected_outcome",
            "the dispatcher recorded an answer this step cannot give; check the payment with the provider",
        );
    }
    Change {
        reason_code: record.reason_code.clone(),
        reason: record.reason.clone(),
        next_attempt_at: record
            .submitted_at
            .map(|_| now_ms + policy.review_inquiry_after_ms as i64),
        ..change
    }
}

/// A sent payment going to review is asked about again later: a definite answer from the
/// provider then settles it without a person. One that was never sent is left to a person.
fn schedule_review(record: &PaymentRecord, mut change: Change, policy: &Policy, now_ms: i64) -> Change {
    if change.to == PaymentState::NeedsReview
        && record.state != PaymentState::NeedsReview
        && change.next_attempt_at.is_none()
        && record.submitted_at.is_some()
    {
        change.next_attempt_at = Some(now_ms + policy.review_inquiry_after_ms as i64);
        change.inquiries = Inquiries::Reset;
    }
    change
}

#[cfg(test)]
mod properties_tests;
#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
