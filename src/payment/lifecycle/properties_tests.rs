//! The money-safety rules of `lifecycle`, checked over every state × every outcome (far more
//! records than the table's rows), and two stories the table cannot tell: a breaker that stays
//! open, and the jitter.

use super::tests::Sent::{LongAgo, No, Recently};
use super::tests::{
    asks_to_wait, circuit_open, edge_refusal, failed, not_found, pending, permanent, record, succeeded, throttled,
    timeout, transient, wallet_limit, NOW, POLICY,
};
use super::Step::{Checks, Resubmit, Submit};
use super::{next, plan, Outcome, Plan, Policy, Step};
use crate::payment::PaymentState::{self, *};
use crate::store::{Change, Inquiries, PaymentRecord};
use gateway_adapter::{AdapterError, ProviderStatus};

fn outcomes() -> Vec<Outcome> {
    vec![
        succeeded(),
        failed(),
        pending(),
        not_found(),
        permanent(),
        edge_refusal(),
        transient(),
        throttled(),
        timeout(),
        circuit_open(),
        asks_to_wait("circuit_open", None),
        Outcome::Cleared,
        Outcome::NameMismatch,
        wallet_limit(),
    ]
}

/// Every kind of record, with the steps the dispatcher takes with it: the one [`plan`] names,
/// and for `submitting` also the submit or resubmit that follows the commit.
fn situations() -> Vec<(PaymentRecord, Vec<Step>)> {
    let mut all = Vec::new();
    for state in PaymentState::ALL {
        for sent in [No, Recently, LongAgo] {
            for attempts in [0, 1, 3, 4, 5] {
                for inquiries in [0, 1, 2, 3, 9] {
                    for reason in ["", "circuit_open", "unknown_outcome"] {
                        let record = record((state, sent, attempts, inquiries, reason));
                        let mut steps = match plan(&record, &POLICY, NOW) {
                            Plan::Checks => vec![Checks],
                            Plan::Ask(step) => vec![step],
                            Plan::Record(_) | Plan::Nothing => vec![],
                        };
                        if state == Submitting {
                            steps.extend([Submit, Resubmit]);
                        }
                        all.push((record, steps));
                    }
                }
            }
        }
    }
    all
}

fn is_circuit_open(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Error(AdapterError::Transient { code, .. }) if code == "circuit_open")
}

/// Checks one decision against every rule; returns the first rule it breaks.
fn broken_rule(record: &PaymentRecord, step: Step, outcome: &Outcome, change: &Change) -> Option<&'static str> {
    let sent = record.submitted_at.is_some();
    let delay = change.next_attempt_at.map(|at| at - NOW);
    let provider_said = |status: fn(&ProviderStatus) -> bool| matches!(outcome, Outcome::Status(s) if status(s));
    let rules = [
        (record.state.can_become(change.to), "the transition is legal"),
        (
            !sent
                || change.to != Failed
                || provider_said(|s| matches!(s, ProviderStatus::Failed { .. }))
                || matches!(outcome, Outcome::Error(AdapterError::Permanent { .. }))
                    && matches!(step, Submit | Resubmit),
            "a payment that may have left fails only on the provider's word",
        ),
        (
            !(sent
                && record.attempts > 1
                && change.to == Failed
                && matches!(outcome, Outcome::Error(AdapterError::Permanent { code, .. }) if code.starts_with("http_"))),
            "after an attempt that may have been booked, a bare HTTP refusal never fails the payment",
        ),
        (
            change.to != Succeeded || provider_said(|s| matches!(s, ProviderStatus::Succeeded { .. })),
            "only the provider says a payment succeeded",
        ),
        (
            !sent || change.to != Submitting || provider_said(|s| *s == ProviderStatus::NotFound),
            "a sent payment is sent again only after the provider said it has no record",
        ),
        (
            change.dead_letter != Some("retries_exhausted") || !sent,
            "only a payment that never left fails retries_exhausted",
        ),
        (
            change.dead_letter != Some("unknown_outcome") || change.to == NeedsReview,
            "an unknown outcome is dead-lettered only on its way to review",
        ),
        (
            change.to != RetryScheduled || delay.is_some_and(|ms| (1..=1_000).contains(&ms)),
            "a retry waits at most backoff_max_ms, Retry-After included",
        ),
        (
            change.to.is_final() || (change.to == NeedsReview && !sent) || delay.is_some(),
            "a payment that is not final is looked at again (a sent one in review too)",
        ),
        (
            !is_circuit_open(outcome)
                || !change.count_attempt && change.inquiries != Inquiries::Increment && change.to != Failed,
            "a circuit_open counts no attempt and no inquiry and fails nothing",
        ),
    ];
    rules.into_iter().find(|(holds, _)| !holds).map(|(_, rule)| rule)
}

#[test]
fn every_decision_keeps_the_money_safety_rules() {
    let mut decisions = 0;
    for (record, steps) in situations() {
        if record.state.is_final() {
            assert!(matches!(plan(&record, &POLICY, NOW), Plan::Nothing), "{record:?}");
        }
        for step in steps {
            for outcome in outcomes() {
                let change = next(&record, step, outcome.clone(), &POLICY, NOW);
                if let Some(rule) = broken_rule(&record, step, &outcome, &change) {
                    panic!("{rule}: {record:?} × {step:?} × {outcome:?} gave {change:?}");
                }
                decisions += 1;
            }
        }
    }
    assert!(decisions > 10_000, "{decisions} decisions checked");
}

/// What the store makes of a change (the parts the decisions read).
fn apply(record: &PaymentRecord, change: Change) -> PaymentRecord {
    PaymentRecord {
        state: change.to,
        attempts: record.attempts + i64::from(change.count_attempt),
        inquiries: match change.inquiries {
            Inquiries::Keep => record.inquiries,
            Inquiries::Reset => 0,
            Inquiries::Increment => record.inquiries + 1,
        },
        next_attempt_at: change.next_attempt_at,
        reason_code: change.reason_code,
        reason: change.reason,
        submitted_at: record.submitted_at.or((change.to == Submitting).then_some(NOW)),
        ..record.clone()
    }
}

/// Commits what [`plan`] says for a retry (`submitting`), as the dispatcher does before a submit.
fn commit_retry(payment: &PaymentRecord) -> PaymentRecord {
    let Plan::Record(submitting) = plan(payment, &POLICY, NOW) else {
        panic!("a sent payment in retry_scheduled is submitted again: {payment:?}");
    };
    apply(payment, submitting)
}

#[test]
fn a_breaker_that_stays_open_delays_a_payment_but_never_uses_up_its_attempts() {
    let accepted = record((Accepted, No, 0, 0, ""));
    let refused = apply(&accepted, next(&accepted, Checks, circuit_open(), &POLICY, NOW));
    assert_eq!(
        (refused.state, refused.attempts),
        (RetryScheduled, 0),
        "a refused name inquiry"
    );
    let mut payment = apply(&refused, next(&refused, Checks, Outcome::Cleared, &POLICY, NOW));
    assert_eq!(
        (payment.state, payment.attempts),
        (Submitting, 1),
        "the first submit counts"
    );
    for _ in 0..50 {
        payment = apply(&payment, next(&payment, Submit, circuit_open(), &POLICY, NOW));
        assert_eq!((payment.state, payment.attempts), (RetryScheduled, 1));
        payment = commit_retry(&payment);
        assert_eq!(
            (payment.state, payment.attempts),
            (Submitting, 1),
            "the refused submit's attempt is given back"
        );
    }
    // Once the breaker lets calls through, real errors use the attempts up as before.
    for attempts in 2..=4 {
        payment = apply(&payment, next(&payment, Submit, transient(), &POLICY, NOW));
        assert_eq!(payment.state, RetryScheduled);
        payment = commit_retry(&payment);
        assert_eq!(payment.attempts, attempts);
    }
    let last = next(&payment, Submit, transient(), &POLICY, NOW);
    assert_eq!(
        (last.to, last.reason_code.as_deref()),
        (Unknown, Some("retries_exhausted")),
        "asked, not failed"
    );
}

#[test]
fn retries_are_spread_between_half_and_all_of_the_backoff_and_never_past_the_cap() {
    let bottom = Policy {
        jitter: |low, _| low,
        ..POLICY
    };
    let out_of_range = Policy {
        jitter: |_, _| u64::MAX,
        ..POLICY
    };
    let delay = |attempts: i64, outcome: Outcome, policy: &Policy| {
        let payment = record((Submitting, Recently, attempts, 0, ""));
        next(&payment, Submit, outcome, policy, NOW)
            .next_attempt_at
            .map(|at| at - NOW)
    };
    assert_eq!(delay(1, transient(), &bottom), Some(50));
    assert_eq!(delay(1, transient(), &POLICY), Some(100));
    assert_eq!(
        delay(1, transient(), &out_of_range),
        Some(100),
        "a pick outside the range is brought back"
    );
    assert_eq!(delay(3, transient(), &bottom), Some(200));
    assert_eq!(delay(3, transient(), &POLICY), Some(400));
    let year = asks_to_wait(
        "provider_throttled",
        Some(std::time::Duration::from_secs(365 * 24 * 3600)),
    );
    for policy in [&bottom, &POLICY, &out_of_range] {
        assert_eq!(
            delay(1, year.clone(), policy),
            Some(1_000),
            "Retry-After is capped at backoff_max_ms"
        );
        assert_eq!(
            delay(1, circuit_open(), policy),
            Some(400),
            "the breaker's own wait, no jitter"
        );
    }
}
