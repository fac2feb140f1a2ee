//! The dispatcher's decisions as a table: every state × every outcome of the step the
//! dispatcher takes in it, with a fixed `NOW` and a fixed jitter (the top of each range).

use std::time::Duration;

use gateway_adapter::{AdapterError, ProviderStatus};

use super::Step::{Checks, PendingPoll, Resubmit, ReviewInquiry, StatusInquiry, Submit};
use super::{next, plan, unreadable_order, Outcome, Plan, Policy, Step};
use crate::payment::PaymentState::{self, *};
use crate::store::Inquiries::{self, Increment as Inc, Keep, Reset};
use crate::store::{Change, PaymentRecord};

pub(super) const NOW: i64 = 1_800_000_000_000;
pub(super) const POLICY: Policy = Policy {
    max_attempts: 4,
    max_inquiries: 3,
    backoff_base_ms: 100,
    backoff_max_ms: 1_000,
    inquiry_delay_ms: 200,
    pending_poll_after_ms: 1_000,
    pending_max_age_ms: 600_000,
    review_inquiry_after_ms: 5_000,
    lease_ms: 3_000,
    jitter: |_low, high| high,
};
/// Delays after `NOW`, as the policy above makes them.
const LEASE: Option<i64> = Some(3_000);
const INQUIRE: Option<i64> = Some(200);
const POLL: Option<i64> = Some(1_000);
const REVIEW: Option<i64> = Some(5_000);
/// `backoff_max_ms`: the longest wait, whatever a provider asks for.
const CAP: Option<i64> = Some(1_000);
/// The `retry_after` of [`circuit_open`].
const BREAKER: Option<i64> = Some(400);

/// When the payment was first sent, if it was.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sent {
    No,
    Recently,
    /// Longer ago than `pending_max_age_ms`.
    LongAgo,
}
use Sent::{LongAgo, No as NO, Recently as SENT};

pub(super) type Given = (PaymentState, Sent, i64, i64, &'static str);
/// To, reason code, attempt counted, inquiry counter, dead letter, next look after `NOW`.
type Expect = (PaymentState, &'static str, bool, Inquiries, &'static str, Option<i64>);

pub(super) fn record((state, sent, attempts, inquiries, reason): Given) -> PaymentRecord {
    PaymentRecord {
        payment_id: "pay_1".into(),
        order_id: "TB-1".into(),
        channel: "bank_transfer".into(),
        provider: "bank_transfer".into(),
        amount: 2_789_000,
        batch_id: "B".into(),
        commune_code: "12454".into(),
        order_json: Some("{}".into()),
        state,
        version: 3,
        seq: 2,
        attempts,
        inquiries,
        next_attempt_at: Some(NOW),
        provider_ref: None,
        reason_code: (!reason.is_empty()).then(|| reason.to_string()),
        reason: (!reason.is_empty()).then(|| "why".to_string()),
        created_at: NOW - 700_000,
        updated_at: NOW - 1_000,
        submitted_at: match sent {
            NO => None,
            SENT => Some(NOW - 60_000),
            LongAgo => Some(NOW - 600_001),
        },
    }
}

/// An [`Expect`] with its reason code owned, to compare a change against the table.
pub(super) type Seen = (PaymentState, String, bool, Inquiries, &'static str, Option<i64>);

pub(super) fn seen(change: &Change) -> Seen {
    let reason_code = change.reason_code.clone().unwrap_or_default();
    let delay = change.next_attempt_at.map(|at| at - NOW);
    (
        change.to,
        reason_code,
        change.count_attempt,
        change.inquiries,
        change.dead_letter.unwrap_or(""),
        delay,
    )
}

fn owned((to, reason_code, counted, inquiries, dead_letter, delay): Expect) -> Seen {
    (to, reason_code.to_string(), counted, inquiries, dead_letter, delay)
}

fn status(status: ProviderStatus) -> Outcome {
    Outcome::Status(status)
}
pub(super) fn succeeded() -> Outcome {
    status(ProviderStatus::Succeeded {
        provider_ref: Some("TRF-1".into()),
    })
}
pub(super) fn failed() -> Outcome {
    status(ProviderStatus::Failed {
        code: "account_closed".into(),
        reason: "closed".into(),
    })
}
pub(super) fn pending() -> Outcome {
    status(ProviderStatus::Pending { provider_ref: None })
}
pub(super) fn not_found() -> Outcome {
    status(ProviderStatus::NotFound)
}
pub(super) fn permanent() -> Outcome {
    Outcome::Error(AdapterError::permanent("invalid_account", "no such account"))
}
/// A bare HTTP status no provider-specific meaning was found for (a load balancer's 404, say):
/// not the provider's word about the payment.
pub(super) fn edge_refusal() -> Outcome {
    Outcome::Error(AdapterError::permanent("http_404", "The bank answered HTTP 404."))
}
pub(super) fn transient() -> Outcome {
    Outcome::Error(AdapterError::transient("provider_unavailable", "503"))
}
pub(super) fn asks_to_wait(code: &str, wait: Option<Duration>) -> Outcome {
    Outcome::Error(AdapterError::Transient {
        code: code.into(),
        message: "wait".into(),
        retry_after: wait,
    })
}
/// A 429 asking for 30 s, more than `backoff_max_ms`.
pub(super) fn throttled() -> Outcome {
    asks_to_wait("provider_throttled", Some(Duration::from_secs(30)))
}
pub(super) fn circuit_open() -> Outcome {
    asks_to_wait("circuit_open", Some(Duration::from_millis(400)))
}
/// An unknown outcome: a timeout after send, or a 409 "already known" the adapter cannot read.
pub(super) fn timeout() -> Outcome {
    Outcome::Error(AdapterError::unknown("409 already known"))
}
pub(super) fn wallet_limit() -> Outcome {
    Outcome::WalletLimit {
        month: "2026-12".into(),
        limit: 100_000_000,
        already: 99_000_000,
    }
}

#[rustfmt::skip]
fn table() -> Vec<(Given, Step, Outcome, Expect)> {
    let accepted = (Accepted, NO, 0, 0, "");
    let last_try = (RetryScheduled, NO, 3, 0, "provider_unavailable");
    let submitting = (Submitting, SENT, 1, 0, "");
    let last_submit = (Submitting, SENT, 4, 0, "");
    let resubmitting = (Submitting, SENT, 2, 0, "");
    let unknown = (Unknown, SENT, 1, 0, "");
    let last_inquiry = (Unknown, SENT, 1, 2, "");
    let pending_ = (Pending, SENT, 1, 0, "");
    let too_old = (Pending, LongAgo, 1, 0, "");
    let review = (NeedsReview, SENT, 1, 0, "unknown_outcome");
    vec![
        // The checks before the first submit: a failure counts an attempt, a breaker refusal does not.
        (accepted, Checks, Outcome::Cleared,      (Submitting, "", true, Keep, "", LEASE)),
        (accepted, Checks, Outcome::NameMismatch, (Failed, "name_mismatch", false, Keep, "", None)),
        (accepted, Checks, wallet_limit(),        (Failed, "wallet_monthly_limit", false, Keep, "", None)),
        (accepted, Checks, permanent(),           (Failed, "invalid_account", false, Keep, "", None)),
        (accepted, Checks, transient(),           (RetryScheduled, "provider_unavailable", true, Keep, "", Some(100))),
        (accepted, Checks, throttled(),           (RetryScheduled, "provider_throttled", true, Keep, "", CAP)),
        (accepted, Checks, timeout(),             (RetryScheduled, "provider_timeout", true, Keep, "", Some(100))),
        (accepted, Checks, circuit_open(),        (RetryScheduled, "circuit_open", false, Keep, "", BREAKER)),
        (accepted, Checks, succeeded(),           (NeedsReview, "unexpected_outcome", false, Keep, "", None)),
        ((RetryScheduled, NO, 1, 0, "x"), Checks, transient(), (RetryScheduled, "provider_unavailable", true, Keep, "", Some(200))),
        // Out of attempts before anything left: only then does a payment fail `retries_exhausted`.
        (last_try, Checks, Outcome::Cleared,      (Submitting, "", true, Keep, "", LEASE)),
        (last_try, Checks, transient(),           (Failed, "retries_exhausted", true, Keep, "retries_exhausted", None)),
        (last_try, Checks, timeout(),             (Failed, "retries_exhausted", true, Keep, "retries_exhausted", None)),
        (last_try, Checks, circuit_open(),        (RetryScheduled, "circuit_open", false, Keep, "", BREAKER)),
        // A submit: `submitting` already counted the attempt.
        (submitting, Submit, succeeded(),         (Succeeded, "", false, Keep, "", None)),
        (submitting, Submit, failed(),            (Failed, "account_closed", false, Keep, "", None)),
        (submitting, Submit, pending(),           (Pending, "", false, Reset, "", POLL)),
        (submitting, Submit, not_found(),         (Unknown, "", false, Keep, "", INQUIRE)),
        (submitting, Submit, permanent(),         (Failed, "invalid_account", false, Keep, "", None)),
        (submitting, Submit, transient(),         (RetryScheduled, "provider_unavailable", false, Keep, "", Some(100))),
        (submitting, Submit, throttled(),         (RetryScheduled, "provider_throttled", false, Keep, "", CAP)),
        (submitting, Submit, timeout(),           (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (submitting, Submit, circuit_open(),      (RetryScheduled, "circuit_open", false, Keep, "", BREAKER)),
        (submitting, Submit, asks_to_wait("circuit_open", None), (RetryScheduled, "circuit_open", false, Keep, "", Some(100))),
        (submitting, Submit, asks_to_wait("circuit_open", Some(Duration::MAX)), (RetryScheduled, "circuit_open", false, Keep, "", CAP)),
        (submitting, Submit, Outcome::Cleared,    (NeedsReview, "unexpected_outcome", false, Reset, "", REVIEW)),
        // The last attempt: a sent payment is asked about, never failed on a guess.
        (last_submit, Submit, transient(),        (Unknown, "retries_exhausted", false, Keep, "", INQUIRE)),
        (last_submit, Submit, timeout(),          (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (last_submit, Submit, not_found(),        (Unknown, "", false, Keep, "", INQUIRE)),
        (last_submit, Submit, circuit_open(),     (RetryScheduled, "circuit_open", false, Keep, "", BREAKER)),
        // A resubmit after "not found": a 409 "already known" never fails it.
        (resubmitting, Resubmit, timeout(),       (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (last_submit, Resubmit, timeout(),        (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (resubmitting, Resubmit, transient(),     (RetryScheduled, "provider_unavailable", false, Keep, "", Some(200))),
        (last_submit, Resubmit, transient(),      (Unknown, "retries_exhausted", false, Keep, "", INQUIRE)),
        (resubmitting, Resubmit, succeeded(),     (Succeeded, "", false, Keep, "", None)),
        (resubmitting, Resubmit, pending(),       (Pending, "", false, Reset, "", POLL)),
        (resubmitting, Resubmit, circuit_open(),  (RetryScheduled, "circuit_open", false, Keep, "", BREAKER)),
        // A bare HTTP refusal is the provider's word only on the first attempt; once an earlier
        // one may have been booked (a 5xx, a timeout) it is asked about, never failed on.
        (submitting, Submit, edge_refusal(),      (Failed, "http_404", false, Keep, "", None)),
        (resubmitting, Submit, edge_refusal(),    (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (resubmitting, Resubmit, edge_refusal(),  (Unknown, "unknown_outcome", false, Keep, "", INQUIRE)),
        (resubmitting, Resubmit, permanent(),     (Failed, "invalid_account", false, Keep, "", None)),
        // A status inquiry about an unknown outcome.
        (unknown, StatusInquiry, succeeded(),     (Succeeded, "", false, Keep, "", None)),
        (unknown, StatusInquiry, failed(),        (Failed, "account_closed", false, Keep, "", None)),
        (unknown, StatusInquiry, pending(),       (Pending, "", false, Reset, "", POLL)),
        (unknown, StatusInquiry, not_found(),     (Submitting, "", true, Reset, "", LEASE)),
        (unknown, StatusInquiry, transient(),     (Unknown, "", false, Inc, "", INQUIRE)),
        (unknown, StatusInquiry, timeout(),       (Unknown, "", false, Inc, "", INQUIRE)),
        (unknown, StatusInquiry, permanent(),     (Unknown, "", false, Inc, "", INQUIRE)),
        (unknown, StatusInquiry, circuit_open(),  (Unknown, "circuit_open", false, Keep, "", BREAKER)),
        (unknown, StatusInquiry, Outcome::Cleared, (NeedsReview, "unexpected_outcome", false, Reset, "", REVIEW)),
        ((Unknown, SENT, 1, 1, ""), StatusInquiry, transient(), (Unknown, "", false, Inc, "", Some(400))),
        (last_inquiry, StatusInquiry, transient(), (NeedsReview, "unknown_outcome", false, Reset, "unknown_outcome", REVIEW)),
        (last_inquiry, StatusInquiry, circuit_open(), (Unknown, "circuit_open", false, Keep, "", BREAKER)),
        (last_submit, StatusInquiry, not_found(), (NeedsReview, "unknown_outcome", false, Reset, "unknown_outcome", REVIEW)),
        ((Unknown, SENT, 4, 0, ""), StatusInquiry, not_found(), (NeedsReview, "unknown_outcome", false, Reset, "unknown_outcome", REVIEW)),
        ((Unknown, NO, 4, 0, ""), StatusInquiry, not_found(), (Failed, "retries_exhausted", false, Keep, "retries_exhausted", None)),
        (submitting, StatusInquiry, not_found(),  (Submitting, "", true, Reset, "", LEASE)),
        (submitting, StatusInquiry, succeeded(),  (Succeeded, "", false, Keep, "", None)),
        (submitting, StatusInquiry, timeout(),    (Unknown, "", false, Inc, "", INQUIRE)),
        (submitting, StatusInquiry, circuit_open(), (Unknown, "circuit_open", false, Keep, "", BREAKER)),
        // A pending poll: nothing new waits twice as long each time, up to 64 times.
        (pending_, PendingPoll, succeeded(),      (Succeeded, "", false, Keep, "", None)),
        (pending_, PendingPoll, failed(),         (Failed, "account_closed", false, Keep, "", None)),
        (pending_, PendingPoll, pending(),        (Pending, "", false, Inc, "", POLL)),
        (pending_, PendingPoll, not_found(),      (NeedsReview, "provider_lost_payment", false, Reset, "", REVIEW)),
        (pending_, PendingPoll, transient(),      (Pending, "", false, Inc, "", POLL)),
        (pending_, PendingPoll, circuit_open(),   (Pending, "", false, Keep, "", BREAKER)),
        ((Pending, SENT, 1, 3, ""), PendingPoll, pending(), (Pending, "", false, Inc, "", Some(8_000))),
        ((Pending, SENT, 1, 9, ""), PendingPoll, pending(), (Pending, "", false, Inc, "", Some(64_000))),
        // Pending past `pending_max_age_ms`: a person looks, unless the answer is final.
        (too_old, PendingPoll, pending(),         (NeedsReview, "pending_too_long", false, Reset, "", REVIEW)),
        (too_old, PendingPoll, transient(),       (NeedsReview, "pending_too_long", false, Reset, "", REVIEW)),
        (too_old, PendingPoll, circuit_open(),    (NeedsReview, "pending_too_long", false, Reset, "", REVIEW)),
        (too_old, PendingPoll, succeeded(),       (Succeeded, "", false, Keep, "", None)),
        // A review inquiry: a final answer settles; anything else keeps the reason and asks later.
        (review, ReviewInquiry, succeeded(),      (Succeeded, "", false, Keep, "", None)),
        (review, ReviewInquiry, failed(),         (Failed, "account_closed", false, Keep, "", None)),
        (review, ReviewInquiry, pending(),        (NeedsReview, "unknown_outcome", false, Inc, "", REVIEW)),
        (review, ReviewInquiry, not_found(),      (NeedsReview, "unknown_outcome", false, Inc, "", REVIEW)),
        (review, ReviewInquiry, transient(),      (NeedsReview, "unknown_outcome", false, Inc, "", REVIEW)),
        (review, ReviewInquiry, circuit_open(),   (NeedsReview, "unknown_outcome", false, Keep, "", BREAKER)),
        (review, ReviewInquiry, Outcome::Cleared, (NeedsReview, "unknown_outcome", false, Keep, "", REVIEW)),
        ((NeedsReview, SENT, 1, 2, "pending_too_long"), ReviewInquiry, pending(), (NeedsReview, "pending_too_long", false, Inc, "", Some(20_000))),
    ]
}

#[test]
fn every_state_and_outcome_leads_where_the_table_says() {
    let table = table();
    assert_eq!(table.len(), 80);
    for (given, step, outcome, expected) in table {
        let record = record(given);
        let change = next(&record, step, outcome.clone(), &POLICY, NOW);
        assert_eq!(
            seen(&change),
            owned(expected),
            "{given:?} × {step:?} × {outcome:?}: {}",
            change.detail
        );
        assert!(
            record.state.can_become(change.to),
            "{given:?} × {step:?} × {outcome:?}: illegal"
        );
    }
}

#[rustfmt::skip]
#[test]
fn each_state_plans_its_own_step_and_a_final_payment_nothing() {
    let submit = |counted| (Submitting, "", counted, Keep, "", LEASE);
    let table: [(Given, Result<Expect, &str>); 13] = [
        ((Accepted, NO, 0, 0, ""), Err("checks")),
        ((RetryScheduled, NO, 1, 0, "provider_unavailable"), Err("checks")),
        ((RetryScheduled, NO, 0, 0, "circuit_open"), Err("checks")),
        ((RetryScheduled, SENT, 1, 0, "provider_unavailable"), Ok(submit(true))),
        // The submit the breaker refused never left: its attempt is given back.
        ((RetryScheduled, SENT, 1, 0, "circuit_open"), Ok(submit(false))),
        ((Submitting, SENT, 1, 0, ""), Err("StatusInquiry")),
        ((Unknown, SENT, 1, 0, ""), Err("StatusInquiry")),
        ((Pending, SENT, 1, 0, ""), Err("PendingPoll")),
        ((NeedsReview, SENT, 1, 0, "unknown_outcome"), Err("ReviewInquiry")),
        ((NeedsReview, NO, 0, 0, "possible_duplicate_payment"), Ok((NeedsReview, "possible_duplicate_payment", false, Keep, "", None))),
        ((Succeeded, SENT, 1, 0, ""), Err("nothing")),
        ((Failed, SENT, 1, 0, ""), Err("nothing")),
        ((Rejected, NO, 0, 0, ""), Err("nothing")),
    ];
    for (given, expected) in table {
        let got = match plan(&record(given), &POLICY, NOW) {
            Plan::Checks => Err("checks"),
            Plan::Ask(step) => Err(match step { StatusInquiry => "StatusInquiry", PendingPoll => "PendingPoll", ReviewInquiry => "ReviewInquiry", _ => "another step" }),
            Plan::Record(change) => Ok(seen(&change)),
            Plan::Nothing => Err("nothing"),
        };
        assert_eq!(got, expected.map(owned), "{given:?}");
    }
}

#[test]
fn an_unreadable_order_goes_to_review_and_is_asked_about_only_if_it_was_sent() {
    let unreadable = |given| seen(&unreadable_order(&record(given), &POLICY, NOW));
    let code = "unreadable_stored_order";
    assert_eq!(
        unreadable((Accepted, NO, 0, 0, "")),
        owned((NeedsReview, code, false, Keep, "", None))
    );
    assert_eq!(
        unreadable((Pending, SENT, 1, 0, "")),
        owned((NeedsReview, code, false, Reset, "", REVIEW))
    );
}

/// A submit that repeats one already sent moves the payment's wallet reservation to the month
/// (Vietnam time) it goes in now — the money goes then, whatever month its checks ran in —
/// whether it is a retry after an outage or a resubmit after "no record"; a first submit,
/// decided by the checks that reserve it, moves nothing.
#[test]
fn a_submit_sent_again_moves_the_wallet_reservation_to_the_month_it_goes_in() {
    // NOW is 2027-01-15 08:00 UTC, 15:00 in Vietnam.
    let this_month = Some("2027-01".to_string());
    let Plan::Record(retry) = plan(
        &record((RetryScheduled, SENT, 1, 0, "provider_unavailable")),
        &POLICY,
        NOW,
    ) else {
        panic!("a sent payment's retry is recorded as submitting");
    };
    assert_eq!((retry.to, retry.wallet_month), (Submitting, this_month.clone()));
    let resubmit = next(
        &record((Unknown, SENT, 1, 1, "")),
        StatusInquiry,
        not_found(),
        &POLICY,
        NOW,
    );
    assert_eq!((resubmit.to, resubmit.wallet_month), (Submitting, this_month));
    let first = next(
        &record((Accepted, NO, 0, 0, "")),
        Checks,
        Outcome::Cleared,
        &POLICY,
        NOW,
    );
    assert_eq!((first.to, first.wallet_month), (Submitting, None));
    // 23:59 on the last day of December in Vietnam is still December; a minute later, January.
    let december_end = 1_798_736_340_000; // 2026-12-31 16:59:00 UTC
    let late = next(
        &record((Unknown, SENT, 1, 1, "")),
        StatusInquiry,
        not_found(),
        &POLICY,
        december_end,
    );
    assert_eq!(late.wallet_month.as_deref(), Some("2026-12"));
    let early = next(
        &record((Unknown, SENT, 1, 1, "")),
        StatusInquiry,
        not_found(),
        &POLICY,
        december_end + 60_000,
    );
    assert_eq!(early.wallet_month.as_deref(), Some("2027-01"));
}

/// Only a payout that holds a wallet reservation keeps the month of its resubmit: to a bank
/// account, a VNPost account or a wallet BIN's account that is no phone number, there is none
/// to move, and the change would be written alone (outside the batched changes) for nothing.
#[test]
fn only_a_payout_into_a_wallet_moves_a_reservation_when_sent_again() {
    let destination = |json: &str| -> gateway_adapter::Destination {
        serde_json::from_str(json).expect("a destination in the order's shape")
    };
    let sent_again = || {
        next(
            &record((Unknown, SENT, 1, 1, "")),
            StatusInquiry,
            not_found(),
            &POLICY,
            NOW,
        )
    };
    for (json, moves) in [
        (
            r#"{"kind":"wallet","provider":"viettel_money","msisdn":"0987654321"}"#,
            true,
        ),
        (
            r#"{"kind":"bank_account","bin":"971005","account_number":"0987654321"}"#,
            true,
        ),
        (
            r#"{"kind":"bank_account","bin":"971011","account_number":"84912345678"}"#,
            true,
        ),
        (
            r#"{"kind":"bank_account","bin":"970436","account_number":"0987654321"}"#,
            false,
        ),
        (
            r#"{"kind":"bank_account","bin":"971005","account_number":"123456"}"#,
            false,
        ),
        (r#"{"kind":"vnpost_account","account_number":"0123456789"}"#, false),
    ] {
        let change = super::for_destination(sent_again(), &destination(json));
        assert_eq!(change.to, Submitting, "{json}");
        assert_eq!(change.wallet_month.is_some(), moves, "{json}");
    }
}

/// A submit committed (`submitting`, its attempt counted) but not sent, because no call permit
/// came in time to answer within the lease, is recorded as what it is: nothing left, back to
/// the queue, and the next submit gives the attempt back — as after a circuit breaker's refusal.
/// On the last attempt too: it does not run out of attempts, nor go to review, for submits never
/// sent. (Before, nothing was recorded: each such turn spent an attempt and, once they ran out,
/// a payment never sent ended in review.)
#[test]
fn a_submit_committed_but_not_sent_goes_back_to_the_queue_and_gives_its_attempt_back() {
    let not_made = || Outcome::Error(AdapterError::transient(super::CALL_NOT_MADE, "no permit in time"));
    for (given, step) in [
        ((Submitting, SENT, 1, 0, ""), Submit),
        ((Submitting, SENT, 4, 0, ""), Submit),
        ((Submitting, SENT, 2, 0, ""), Resubmit),
    ] {
        let change = next(&record(given), step, not_made(), &POLICY, NOW);
        assert_eq!(
            seen(&change),
            owned((
                RetryScheduled,
                "call_not_made",
                false,
                Keep,
                "",
                change.next_attempt_at.map(|at| at - NOW)
            )),
            "{given:?}"
        );
        assert!(
            change.next_attempt_at.is_some_and(|at| at > NOW),
            "{given:?}: looked at again"
        );
    }
    let Plan::Record(again) = plan(&record((RetryScheduled, SENT, 1, 0, "call_not_made")), &POLICY, NOW) else {
        panic!("submitted again");
    };
    assert_eq!(
        (again.to, again.count_attempt),
        (Submitting, false),
        "the attempt is given back"
    );
}
