//! The callback decision as a table: every state a payment can be in × what a callback says.

use gateway_adapter::{CallbackEvent, PaymentId, ProviderStatus, Vnd};

use super::{decide, CallbackTimes};
use crate::payment::PaymentState::{self, *};
use crate::store::{CallbackDecision, Inquiries, PaymentRecord};

const AMOUNT: i64 = 2_789_000;
const TIMES: CallbackTimes = CallbackTimes {
    poll_at: 1_000,
    review_at: 2_000,
};

fn record(state: PaymentState, sent: bool) -> PaymentRecord {
    PaymentRecord {
        payment_id: "pay_1".into(),
        order_id: "TB-1".into(),
        channel: "bank_transfer".into(),
        provider: "bank_transfer".into(),
        amount: AMOUNT,
        batch_id: "B".into(),
        commune_code: "12454".into(),
        order_json: Some("{}".into()),
        state,
        version: 3,
        seq: 2,
        attempts: 1,
        inquiries: 0,
        next_attempt_at: None,
        provider_ref: None,
        reason_code: Some("unknown_outcome".into()),
        reason: None,
        created_at: 0,
        updated_at: 0,
        submitted_at: sent.then_some(10),
    }
}

fn event(status: ProviderStatus, amount: Option<u64>) -> CallbackEvent {
    CallbackEvent {
        event_id: "evt_1".into(),
        payment_id: PaymentId::from_stored("pay_1"),
        amount: amount.and_then(Vnd::new),
        status,
    }
}

fn succeeded() -> ProviderStatus {
    ProviderStatus::Succeeded {
        provider_ref: Some("TRF-1".into()),
    }
}

fn failed() -> ProviderStatus {
    ProviderStatus::Failed {
        code: "account_closed".into(),
        reason: "closed".into(),
    }
}

fn pending() -> ProviderStatus {
    ProviderStatus::Pending { provider_ref: None }
}

/// What a decision comes to, for comparing against the table.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    To(PaymentState, Option<&'static str>),
    Ignore,
    Flag,
    Reverse,
}

fn outcome(decision: CallbackDecision) -> Outcome {
    match decision {
        CallbackDecision::Apply(change) => Outcome::To(
            change.to,
            match change.reason_code.as_deref() {
                Some("callback_contradicts_record") => Some("callback_contradicts_record"),
                Some("account_closed") => Some("account_closed"),
                None => None,
                Some(other) => panic!("unexpected reason code {other}"),
            },
        ),
        CallbackDecision::Ignore => Outcome::Ignore,
        CallbackDecision::Flag(_) => Outcome::Flag,
        CallbackDecision::Reverse(_) => Outcome::Reverse,
    }
}

const FULL: Option<u64> = Some(AMOUNT as u64);
const OTHER: Option<u64> = Some(1);
const CONTRADICTS: Outcome = Outcome::To(NeedsReview, Some("callback_contradicts_record"));

#[test]
fn a_final_answer_settles_only_with_the_exact_amount() {
    let table = [
        (Submitting, succeeded(), FULL, Outcome::To(Succeeded, None)),
        (Pending, succeeded(), FULL, Outcome::To(Succeeded, None)),
        (Unknown, succeeded(), FULL, Outcome::To(Succeeded, None)),
        (RetryScheduled, succeeded(), FULL, Outcome::To(Succeeded, None)),
        (Pending, failed(), FULL, Outcome::To(Failed, Some("account_closed"))),
        // Amount 0 (no Vnd) or absent: never settles.
        (Pending, succeeded(), None, CONTRADICTS),
        (Pending, succeeded(), Some(0), CONTRADICTS),
        (Pending, failed(), None, CONTRADICTS),
        (Submitting, succeeded(), OTHER, CONTRADICTS),
        (Pending, pending(), OTHER, CONTRADICTS),
        // Not final: no amount needed.
        (Submitting, pending(), None, Outcome::To(Pending, None)),
        (Pending, pending(), None, Outcome::Ignore),
        (Pending, ProviderStatus::NotFound, None, Outcome::Ignore),
    ];
    for (state, status, amount, expected) in table {
        let got = outcome(decide(&record(state, true), &event(status.clone(), amount), TIMES));
        assert_eq!(got, expected, "{state} × {status:?} amount {amount:?}");
    }
}

#[test]
fn a_payment_in_review_is_settled_by_a_consistent_final_answer() {
    let table = [
        (succeeded(), FULL, Outcome::To(Succeeded, None)),
        (failed(), FULL, Outcome::To(Failed, Some("account_closed"))),
        (succeeded(), None, CONTRADICTS),
        (succeeded(), OTHER, CONTRADICTS),
        (pending(), None, Outcome::Ignore),
        (ProviderStatus::NotFound, None, Outcome::Ignore),
    ];
    for (status, amount, expected) in table {
        let decision = decide(&record(NeedsReview, true), &event(status.clone(), amount), TIMES);
        if let CallbackDecision::Apply(change) = &decision {
            if change.to == Succeeded {
                assert!(change.detail.contains("settles a payment in review (unknown_outcome)"));
            }
        }
        assert_eq!(
            outcome(decision),
            expected,
            "needs_review × {status:?} amount {amount:?}"
        );
    }
}

#[test]
fn a_payment_that_was_never_sent_cannot_be_reported_on() {
    for state in [Accepted, RetryScheduled, NeedsReview] {
        let decision = decide(&record(state, false), &event(succeeded(), FULL), TIMES);
        let CallbackDecision::Apply(change) = decision else {
            panic!("{state}: a contradiction is applied");
        };
        assert_eq!(change.to, NeedsReview);
        assert_eq!(change.next_attempt_at, None, "nothing to ask a provider about");
    }
}

#[test]
fn a_contradiction_on_a_sent_payment_schedules_a_review_inquiry() {
    let decision = decide(&record(Pending, true), &event(succeeded(), None), TIMES);
    let CallbackDecision::Apply(change) = decision else {
        panic!("applied");
    };
    assert_eq!(change.next_attempt_at, Some(TIMES.review_at));
}

/// A callback that sends a payment to review or marks it pending starts its inquiries over,
/// as the dispatcher's own changes to those states do: the next question comes after the
/// first delay, not after the one its earlier inquiries had grown to (up to 64 times longer).
#[test]
fn a_callback_that_sends_to_review_or_pending_starts_the_inquiries_over() {
    for (state, status, amount) in [
        (Pending, succeeded(), None),
        (Submitting, succeeded(), OTHER),
        (Unknown, pending(), None),
        (NeedsReview, succeeded(), OTHER),
    ] {
        let mut asked = record(state, true);
        asked.inquiries = 6;
        let CallbackDecision::Apply(change) = decide(&asked, &event(status.clone(), amount), TIMES) else {
            panic!("{state} × {status:?}: a change is applied");
        };
        assert!(
            matches!(change.to, NeedsReview | PaymentState::Pending),
            "{state} × {status:?}"
        );
        assert_eq!(change.inquiries, Inquiries::Reset, "{state} × {status:?}");
    }
}

#[test]
fn a_final_payment_never_changes_and_a_reversal_is_reported() {
    let table = [
        (Succeeded, succeeded(), FULL, Outcome::Ignore),
        (Failed, failed(), FULL, Outcome::Ignore),
        (Succeeded, succeeded(), None, Outcome::Flag),
        (Succeeded, pending(), None, Outcome::Flag),
        (Succeeded, failed(), FULL, Outcome::Reverse),
        (Succeeded, failed(), None, Outcome::Reverse),
        (Failed, succeeded(), FULL, Outcome::Reverse),
        (Succeeded, succeeded(), OTHER, Outcome::Reverse),
        (Rejected, succeeded(), FULL, Outcome::Reverse),
    ];
    for (state, status, amount, expected) in table {
        let got = outcome(decide(&record(state, true), &event(status.clone(), amount), TIMES));
        assert_eq!(got, expected, "{state} × {status:?} amount {amount:?}");
    }
}
