//! Adds payments up per commune, program and channel (and per commune, per channel and in
//! total): counts and amounts by outcome, time from order to credit, reasons for failures.
//! Pure: no I/O, so it is tested as a table below.

use std::collections::BTreeMap;

use crate::payment::PaymentState;

/// Where a payment ended up, as the report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Credited (`succeeded`) and not sent back.
    Paid,
    Failed,
    /// Not final yet and not waiting for a person: `accepted`, `submitting`, `pending`,
    /// `unknown`, `retry_scheduled`.
    Pending,
    NeedsReview,
    /// Credited, then sent back by the provider (found by reconciliation).
    Returned,
    /// Refused by the gateway's rules after it was claimed (e.g. a possible duplicate payment).
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Paid,
        Outcome::Failed,
        Outcome::Pending,
        Outcome::NeedsReview,
        Outcome::Returned,
        Outcome::Rejected,
    ];

    /// The name used in CSV columns and HTML ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::Failed => "failed",
            Outcome::Pending => "pending",
            Outcome::NeedsReview => "needs_review",
            Outcome::Returned => "returned",
            Outcome::Rejected => "rejected",
        }
    }

    /// The heading a reader sees.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Paid => "Paid",
            Outcome::Failed => "Failed",
            Outcome::Pending => "Pending",
            Outcome::NeedsReview => "Needs review",
            Outcome::Returned => "Returned",
            Outcome::Rejected => "Rejected",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The outcome of a payment in `state`; a return found later overrides a success.
    pub fn of(state: PaymentState, returned: bool) -> Self {
        match state {
            PaymentState::Succeeded if returned => Outcome::Returned,
            PaymentState::Succeeded => Outcome::Paid,
            PaymentState::Failed => Outcome::Failed,
            PaymentState::Rejected => Outcome::Rejected,
            PaymentState::NeedsReview => Outcome::NeedsReview,
            PaymentState::Accepted
            | PaymentState::Submitting
            | PaymentState::Pending
            | PaymentState::Unknown
            | PaymentState::RetryScheduled => Outcome::Pending,
        }
    }

    /// Outcomes whose reason the report lists (the ones somebody has to act on).
    pub fn has_reason(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::NeedsReview | Outcome::Returned | Outcome::Rejected
        )
    }
}

/// One payment, as much of it as the report needs (no personal data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFact {
    pub commune_code: String,
    pub program: String,
    pub channel: String,
    pub outcome: Outcome,
    /// Whole đồng.
    pub amount: i64,
    pub reason_code: Option<String>,
    /// From the claim (the gateway took the order) to the credit, for credited payments.
    pub order_to_credit_ms: Option<i64>,
}

/// The line a payment is counted on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub commune_code: String,
    pub program: String,
    pub channel: String,
}

/// Counts, amounts and times of a set of payments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    counts: [u64; 6],
    amounts: [i64; 6],
    /// Order-to-credit times of the credited payments, sorted once [`Figures::finish`] ran.
    credit_times_ms: Vec<i64>,
}

impl Figures {
    fn add(&mut self, fact: &PaymentFact) {
        let index = fact.outcome.index();
        self.counts[index] += 1;
        self.amounts[index] = self.amounts[index].saturating_add(fact.amount);
        if let Some(ms) = fact.order_to_credit_ms {
            self.credit_times_ms.push(ms.max(0));
        }
    }

    fn finish(mut self) -> Self {
        self.credit_times_ms.sort_unstable();
        self
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome.index()]
    }

    /// Whole đồng.
    pub fn amount(&self, outcome: Outcome) -> i64 {
        self.amounts[outcome.index()]
    }

    /// Every payment, whatever its outcome.
    pub fn total_count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn total_amount(&self) -> i64 {
        self.amounts
            .iter()
            .fold(0i64, |sum, amount| sum.saturating_add(*amount))
    }

    /// Median time from order to credit (nearest rank), `None` when nothing was credited.
    pub fn median_ms(&self) -> Option<i64> {
        percentile(&self.credit_times_ms, 50)
    }

    /// 95th percentile (nearest rank) of the time from order to credit.
    pub fn p95_ms(&self) -> Option<i64> {
        percentile(&self.credit_times_ms, 95)
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `percent`% of
/// the values at or below it.
pub fn percentile(sorted: &[i64], percent: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * percent.min(100) as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Payments with one reason code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReasonLine {
    pub outcome: Outcome,
    pub reason_code: String,
    pub count: u64,
    pub amount: i64,
}

/// The whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Per commune, program and channel, sorted by commune code, program, channel.
    pub lines: Vec<(GroupKey, Figures)>,
    /// Per commune code, sorted.
    pub communes: Vec<(String, Figures)>,
    /// Per channel, sorted.
    pub channels: Vec<(String, Figures)>,
    pub total: Figures,
    /// Reasons of failed, needs-review, returned and rejected payments, most frequent first.
    pub reasons: Vec<ReasonLine>,
    /// The same per line, for the CSV file.
    pub line_reasons: Vec<(GroupKey, ReasonLine)>,
}

/// Adds the payments up.
pub fn aggregate<'a>(facts: impl IntoIterator<Item = &'a PaymentFact>) -> Report {
    let mut lines: BTreeMap<GroupKey, Figures> = BTreeMap::new();
    let mut communes: BTreeMap<String, Figures> = BTreeMap::new();
    let mut channels: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut reasons: BTreeMap<(Outcome, String), (u64, i64)> = BTreeMap::new();
    let mut line_reasons: BTreeMap<(GroupKey, Outcome, String), (u64, i64)> = BTreeMap::new();
    for fact in facts {
        let key = GroupKey {
            commune_code: fact.commune_code.clone(),
            program: fact.program.clone(),
            channel: fact.channel.clone(),
        };
        total.add(fact);
        communes.entry(fact.commune_code.clone()).or_default().add(fact);
        channels.entry(fact.channel.clone()).or_default().add(fact);
        if fact.outcome.has_reason() {
            let code = fact.reason_code.clone().unwrap_or_else(|| "unspecified".to_string());
            let entry = reasons.entry((fact.outcome, code.clone())).or_default();
            entry.0 += 1;
            entry.1 = entry.1.saturating_add(fact.amount);
            let entry = line_reasons.entry((key.clone(), fact.outcome, code)).or_default();
            entry.0 += 1;
            entry.1 = entry.1.saturating_add(fact.amount);
        }
        lines.entry(key).or_default().add(fact);
    }
    let mut reasons: Vec<ReasonLine> = reasons
        .into_iter()
        .map(|((outcome, reason_code), (count, amount))| ReasonLine {
            outcome,
            reason_code,
            count,
            amount,
        })
        .collect();
    // Most frequent first; ties in outcome and code order, so the output is stable.
    reasons.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.outcome.cmp(&b.outcome))
            .then(a.reason_code.cmp(&b.reason_code))
    });
    Report {
        lines: lines
            .into_iter()
            .map(|(key, figures)| (key, figures.finish()))
            .collect(),
        communes: communes
            .into_iter()
            .map(|(code, figures)| (code, figures.finish()))
            .collect(),
        channels: channels
            .into_iter()
            .map(|(code, figures)| (code, figures.finish()))
            .collect(),
        total: total.finish(),
        reasons,
        line_reasons: line_reasons
            .into_iter()
            .map(|((key, outcome, reason_code), (count, amount))| {
                (
                    key,
                    ReasonLine {
                        outcome,
                        reason_code,
                        count,
                        amount,
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
