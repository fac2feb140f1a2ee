//! The report's aggregation as tables: states to outcomes, percentiles, sums per line,
//! commune, channel and in total, and the reasons list.

use super::*;

fn fact(commune: &str, channel: &str, outcome: Outcome, amount: i64, reason: Option<&str>) -> PaymentFact {
    PaymentFact {
        commune_code: commune.to_string(),
        program: "meritorious".to_string(),
        channel: channel.to_string(),
        outcome,
        amount,
        reason_code: reason.map(str::to_string),
        order_to_credit_ms: None,
    }
}

fn paid(commune: &str, channel: &str, amount: i64, ms: i64) -> PaymentFact {
    PaymentFact {
        order_to_credit_ms: Some(ms),
        ..fact(commune, channel, Outcome::Paid, amount, None)
    }
}

#[test]
fn states_map_to_outcomes_and_a_return_overrides_a_success() {
    let table = [
        (PaymentState::Succeeded, false, Outcome::Paid),
        (PaymentState::Succeeded, true, Outcome::Returned),
        (PaymentState::Failed, false, Outcome::Failed),
        (PaymentState::Rejected, false, Outcome::Rejected),
        (PaymentState::NeedsReview, false, Outcome::NeedsReview),
        (PaymentState::Accepted, false, Outcome::Pending),
        (PaymentState::Submitting, false, Outcome::Pending),
        (PaymentState::Pending, false, Outcome::Pending),
        (PaymentState::Unknown, false, Outcome::Pending),
        (PaymentState::RetryScheduled, false, Outcome::Pending),
    ];
    for (state, returned, expected) in table {
        assert_eq!(Outcome::of(state, returned), expected, "{state:?} returned={returned}");
    }
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(percentile(&[7], 50), Some(7));
    assert_eq!(percentile(&[7], 95), Some(7));
    assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    let hundred: Vec<i64> = (1..=100).collect();
    assert_eq!(percentile(&hundred, 50), Some(50));
    assert_eq!(percentile(&hundred, 95), Some(95));
    let twenty: Vec<i64> = (1..=20).collect();
    assert_eq!(percentile(&twenty, 95), Some(19));
}

#[test]
fn counts_and_amounts_add_up_per_line_commune_channel_and_total() {
    let facts = vec![
        paid("12454", "bank_transfer", 2_789_000, 3_000),
        paid("12454", "bank_transfer", 1_000_000, 1_000),
        paid("12454", "bank_transfer", 500_000, 2_000),
        fact(
            "12454",
            "bank_transfer",
            Outcome::Failed,
            1_250_000,
            Some("account_closed"),
        ),
        fact(
            "12454",
            "mobile_money",
            Outcome::NeedsReview,
            700_000,
            Some("unknown_outcome"),
        ),
        fact("12457", "vnpost_account", Outcome::Pending, 900_000, None),
        fact(
            "12457",
            "vnpost_account",
            Outcome::Failed,
            100_000,
            Some("account_closed"),
        ),
        fact(
            "12457",
            "vnpost_account",
            Outcome::Returned,
            300_000,
            Some("account_closed_return"),
        ),
    ];
    let report = aggregate(&facts);

    assert_eq!(report.lines.len(), 3);
    let (key, bank) = &report.lines[0];
    assert_eq!(
        (key.commune_code.as_str(), key.channel.as_str()),
        ("12454", "bank_transfer")
    );
    assert_eq!(bank.count(Outcome::Paid), 3);
    assert_eq!(bank.amount(Outcome::Paid), 4_289_000);
    assert_eq!(bank.count(Outcome::Failed), 1);
    assert_eq!(bank.amount(Outcome::Failed), 1_250_000);
    assert_eq!(bank.median_ms(), Some(2_000));
    assert_eq!(bank.p95_ms(), Some(3_000));

    assert_eq!(report.communes.len(), 2);
    assert_eq!(report.communes[0].1.total_count(), 5);
    assert_eq!(report.communes[1].1.count(Outcome::Returned), 1);
    assert_eq!(report.communes[1].1.amount(Outcome::Pending), 900_000);

    let channels: Vec<&str> = report.channels.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(channels, ["bank_transfer", "mobile_money", "vnpost_account"]);

    assert_eq!(report.total.total_count(), 8);
    assert_eq!(report.total.total_amount(), 7_539_000);
    assert_eq!(report.total.count(Outcome::NeedsReview), 1);
    assert_eq!(report.total.median_ms(), Some(2_000));
}

#[test]
fn reasons_are_counted_most_frequent_first_and_paid_or_pending_have_none() {
    let facts = vec![
        fact("12454", "bank_transfer", Outcome::Failed, 1_000, Some("name_mismatch")),
        fact("12454", "bank_transfer", Outcome::Failed, 2_000, Some("account_closed")),
        fact("12457", "bank_transfer", Outcome::Failed, 3_000, Some("account_closed")),
        fact("12457", "bank_transfer", Outcome::NeedsReview, 4_000, None),
        fact(
            "12457",
            "bank_transfer",
            Outcome::Pending,
            5_000,
            Some("provider_timeout"),
        ),
        paid("12457", "bank_transfer", 6_000, 10),
    ];
    let report = aggregate(&facts);
    let reasons: Vec<(Outcome, &str, u64, i64)> = report
        .reasons
        .iter()
        .map(|r| (r.outcome, r.reason_code.as_str(), r.count, r.amount))
        .collect();
    assert_eq!(
        reasons,
        [
            (Outcome::Failed, "account_closed", 2, 5_000),
            (Outcome::Failed, "name_mismatch", 1, 1_000),
            (Outcome::NeedsReview, "unspecified", 1, 4_000),
        ]
    );
    assert_eq!(report.line_reasons.len(), 4);
}

#[test]
fn an_empty_period_gives_an_empty_report() {
    let report = aggregate(&[]);
    assert!(report.lines.is_empty());
    assert_eq!(report.total.total_count(), 0);
    assert_eq!(report.total.median_ms(), None);
}
