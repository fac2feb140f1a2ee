//! The control-total check of one batch, pure: what the manifest declared against the orders
//! the gateway received, giving tallies, the differences, whether every declared order is
//! final, and the status the batch closes with.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::payment::PaymentState;

/// Where a received order stands, for the tallies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Claimed, then rejected (the duplicate-payment guard under the `reject` policy).
    Rejected,
    /// Claimed and not final yet (`needs_review` included).
    InProgress,
    /// Refused as invalid before it was claimed (a `rejected` result): nothing was paid.
    Invalid,
}

impl Outcome {
    pub fn from_state(state: PaymentState) -> Self {
        match state {
            PaymentState::Succeeded => Outcome::Succeeded,
            PaymentState::Failed => Outcome::Failed,
            PaymentState::Rejected => Outcome::Rejected,
            _ => Outcome::InProgress,
        }
    }

    fn is_final(self) -> bool {
        !matches!(self, Outcome::InProgress)
    }
}

/// One order of the batch as the store knows it. For an [`Outcome::Invalid`] order the
/// amount is the declared one (the message was not understood).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedOrder {
    pub order_id: String,
    pub amount: u64,
    pub outcome: Outcome,
}

/// What the manifest declared, as the check needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub order_count: u64,
    pub total_amount: u64,
    /// `(order_id, amount)` per declared order, when the manifest lists them.
    pub lines: Option<Vec<(String, u64)>>,
}

/// A number of orders and their sum in whole đồng.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub orders: u64,
    pub amount: u64,
}

impl Tally {
    fn add(&mut self, amount: u64) {
        self.orders += 1;
        self.amount = self.amount.saturating_add(amount);
    }
}

/// The kinds of difference, in the order they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// A declared order that never arrived (reported when the batch closes).
    MissingOrder,
    /// An order of this batch the manifest does not list.
    ExtraOrder,
    /// A declared order that arrived with another amount.
    AmountMismatch,
    /// A declared order that arrived but was refused as invalid: nothing was paid.
    InvalidOrder,
    /// Manifest without lines: fewer orders than declared (counts, at close).
    MissingOrders,
    /// Manifest without lines: more orders than declared (counts). With lines: how many extra
    /// orders there are beyond the [`MAX_NAMED_EXTRA_ORDERS`] named (`actual`, a count).
    ExtraOrders,
    /// Manifest without lines: the amounts received do not add up to the declared total.
    TotalMismatch,
    /// Manifest without lines: orders of the batch refused as invalid (`actual`, a count):
    /// nothing of them was paid, as with lines, where each is an [`Self::InvalidOrder`].
    InvalidOrders,
}

impl DifferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingOrder => "missing_order",
            DifferenceKind::ExtraOrder => "extra_order",
            DifferenceKind::AmountMismatch => "amount_mismatch",
            DifferenceKind::InvalidOrder => "invalid_order",
            DifferenceKind::MissingOrders => "missing_orders",
            DifferenceKind::ExtraOrders => "extra_orders",
            DifferenceKind::TotalMismatch => "total_mismatch",
            DifferenceKind::InvalidOrders => "invalid_orders",
        }
    }
}

/// One difference between the manifest and what arrived. `declared` and `actual` are
/// amounts in đồng, except for `missing_orders` and `extra_orders`, where they are counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub order_id: Option<String>,
    pub declared: Option<u64>,
    pub actual: Option<u64>,
}

/// The status a batch has, or closes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Open,
    /// Every declared order is final and nothing differs.
    Balanced,
    /// At least one difference.
    Unbalanced,
    /// Closed at its deadline with nothing differing, but some orders not final yet.
    Expired,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Open => "open",
            BatchStatus::Balanced => "balanced",
            BatchStatus::Unbalanced => "unbalanced",
            BatchStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            BatchStatus::Open,
            BatchStatus::Balanced,
            BatchStatus::Unbalanced,
            BatchStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCheck {
    pub declared: Tally,
    /// Claimed orders of this batch (declared or not); invalid ones are not in it.
    pub received: Tally,
    pub succeeded: Tally,
    pub failed: Tally,
    pub rejected: Tally,
    pub in_progress: Tally,
    /// Declared orders refused as invalid, at their declared amounts.
    pub invalid: Tally,
    /// Declared orders with a final result (an invalid one's `rejected` counts).
    pub final_orders: u64,
    /// Every declared order has a final result: the batch can close.
    pub complete: bool,
    pub differences: Vec<Difference>,
}

impl BatchCheck {
    /// The status a batch closes with after this check.
    pub fn closing_status(&self) -> BatchStatus {
        if !self.differences.is_empty() {
            BatchStatus::Unbalanced
        } else if self.complete {
            BatchStatus::Balanced
        } else {
            BatchStatus::Expired
        }
    }
}

/// The most extra orders (orders of the batch its manifest does not list) a check names; the
/// rest are counted in one `extra_orders` difference. Bounds what a check reads and publishes
/// when upstream sends many orders under a batch id its manifest does not list.
pub const MAX_NAMED_EXTRA_ORDERS: usize = 100;

/// What the store knows of a batch's orders, as tallies and the few orders a difference
/// names: the input of [`assess`]. The store computes it in SQL
/// (`Store::batch_facts`), so a check reads a handful of rows however large the batch;
/// [`check`] computes it from a list of orders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchFacts {
    /// The manifest's `order_count` and `total_amount`.
    pub declared: Tally,
    /// Claimed orders of the batch (declared or not), by outcome.
    pub succeeded: Tally,
    pub failed: Tally,
    pub rejected: Tally,
    /// Claimed and not final yet (`needs_review` included).
    pub in_progress: Tally,
    /// Declared orders refused as invalid before any payment was claimed, at their declared
    /// amounts.
    pub invalid: Tally,
    /// How the manifest's lines matched; `None` for a manifest that declares totals only.
    pub lines: Option<LineFacts>,
}

/// How a manifest's lines matched the batch's orders. Every list is sorted by order id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFacts {
    /// How many lines the manifest lists.
    pub lines: u64,
    /// Declared orders with a claimed payment of this batch.
    pub arrived: u64,
    /// Of `arrived`, those with a final result.
    pub arrived_final: u64,
    /// Declared orders not arrived, `(order_id, declared)`: only read for a closing check
    /// (while the batch is open they are awaited, and only their number matters).
    pub missing: Vec<(String, u64)>,
    /// Declared orders that arrived with another amount: `(order_id, declared, actual)`.
    pub mismatched: Vec<(String, u64, u64)>,
    /// Declared orders refused as invalid: `(order_id, declared)`.
    pub invalid_orders: Vec<(String, u64)>,
    /// Claimed orders of the batch the manifest does not list: the first
    /// [`MAX_NAMED_EXTRA_ORDERS`] by order id, `(order_id, amount)`.
    pub extra: Vec<(String, u64)>,
    /// How many extra orders there are in all (named or not).
    pub extra_orders: u64,
}

impl LineFacts {
    /// Declared orders neither arrived nor refused as invalid.
    pub fn missing_orders(&self) -> u64 {
        self.lines
            .saturating_sub(self.arrived)
            .saturating_sub(self.invalid_orders.len() as u64)
    }
}

/// Checks `received` (every order of the batch the store knows, each order id once) against
/// `declared`: [`assess`] of the facts these orders give. While the batch is open (`closing`
/// false) an order not yet arrived is only awaited; when it closes, it is missing.
pub fn check(declared: &Declared, received: &[ReceivedOrder], closing: bool) -> BatchCheck {
    assess(&facts(declared, received), closing)
}

/// The [`BatchFacts`] of a list of orders, as the store computes them in SQL.
pub fn facts(declared: &Declared, received: &[ReceivedOrder]) -> BatchFacts {
    let mut facts = BatchFacts {
        declared: Tally {
            orders: declared.order_count,
            amount: declared.total_amount,
        },
        ..BatchFacts::default()
    };
    for order in received {
        match order.outcome {
            Outcome::Succeeded => facts.succeeded.add(order.amount),
            Outcome::Failed => facts.failed.add(order.amount),
            Outcome::Rejected => facts.rejected.add(order.amount),
            Outcome::InProgress => facts.in_progress.add(order.amount),
            Outcome::Invalid => facts.invalid.add(order.amount),
        }
    }
    facts.lines = declared.lines.as_ref().map(|lines| line_facts(lines, received));
    facts
}

fn line_facts(lines: &[(String, u64)], received: &[ReceivedOrder]) -> LineFacts {
    let by_id: HashMap<&str, &ReceivedOrder> = received.iter().map(|order| (order.order_id.as_str(), order)).collect();
    let mut found = LineFacts {
        lines: lines.len() as u64,
        ..LineFacts::default()
    };
    for (order_id, amount) in lines {
        match by_id.get(order_id.as_str()) {
            None => found.missing.push((order_id.clone(), *amount)),
            Some(order) if order.outcome == Outcome::Invalid => found.invalid_orders.push((order_id.clone(), *amount)),
            Some(order) => {
                found.arrived += 1;
                if order.outcome.is_final() {
                    found.arrived_final += 1;
                }
                if order.amount != *amount {
                    found.mismatched.push((order_id.clone(), *amount, order.amount));
                }
            }
        }
    }
    let listed: HashSet<&str> = lines.iter().map(|(order_id, _)| order_id.as_str()).collect();
    let mut extra: Vec<(String, u64)> = received
        .iter()
        .filter(|order| order.outcome != Outcome::Invalid && !listed.contains(order.order_id.as_str()))
        .map(|order| (order.order_id.clone(), order.amount))
        .collect();
    extra.sort();
    found.extra_orders = extra.len() as u64;
    extra.truncate(MAX_NAMED_EXTRA_ORDERS);
    found.extra = extra;
    found.missing.sort();
    found.mismatched.sort();
    found.invalid_orders.sort();
    found
}

/// Checks a batch's facts against its manifest. While the batch is open (`closing` false) an
/// order not yet arrived is only awaited; when it closes, it is missing (and `facts` must name
/// the missing orders). With lines, each difference names its order (extra orders beyond
/// [`MAX_NAMED_EXTRA_ORDERS`] are counted in one `extra_orders` difference) and the listed
/// differences explain the whole gap in the totals, so no `total_mismatch` is added; without
/// lines, counts and totals are compared.
pub fn assess(facts: &BatchFacts, closing: bool) -> BatchCheck {
    let mut received = Tally::default();
    for tally in [facts.succeeded, facts.failed, facts.rejected, facts.in_progress] {
        received.orders += tally.orders;
        received.amount = received.amount.saturating_add(tally.amount);
    }
    let mut result = BatchCheck {
        declared: facts.declared,
        received,
        succeeded: facts.succeeded,
        failed: facts.failed,
        rejected: facts.rejected,
        in_progress: facts.in_progress,
        invalid: facts.invalid,
        ..BatchCheck::default()
    };
    match &facts.lines {
        Some(lines) => assess_lines(lines, closing, &mut result),
        None => assess_totals(facts, closing, &mut result),
    }
    result
        .differences
        .sort_by(|a, b| (a.kind, &a.order_id).cmp(&(b.kind, &b.order_id)));
    result
}

fn assess_lines(lines: &LineFacts, closing: bool, result: &mut BatchCheck) {
    let named = |kind, order_id: &str, declared, actual| Difference {
        kind,
        order_id: Some(order_id.to_string()),
        declared,
        actual,
    };
    if closing {
        for (order_id, amount) in &lines.missing {
            result
                .differences
                .push(named(DifferenceKind::MissingOrder, order_id, Some(*amount), None));
        }
    }
    for (order_id, declared, actual) in &lines.mismatched {
        result.differences.push(named(
            DifferenceKind::AmountMismatch,
            order_id,
            Some(*declared),
            Some(*actual),
        ));
    }
    for (order_id, amount) in &lines.invalid_orders {
        result
            .differences
            .push(named(DifferenceKind::InvalidOrder, order_id, Some(*amount), None));
    }
    for (order_id, amount) in &lines.extra {
        result
            .differences
            .push(named(DifferenceKind::ExtraOrder, order_id, None, Some(*amount)));
    }
    let unnamed = lines.extra_orders.saturating_sub(lines.extra.len() as u64);
    if unnamed > 0 {
        // More extra orders than are named: how many more, as a count.
        result.differences.push(Difference {
            kind: DifferenceKind::ExtraOrders,
            order_id: None,
            declared: None,
            actual: Some(unnamed),
        });
    }
    result.final_orders = lines.arrived_final + lines.invalid_orders.len() as u64;
    result.complete = lines.missing_orders() == 0 && result.final_orders == lines.lines;
}

fn assess_totals(facts: &BatchFacts, closing: bool, result: &mut BatchCheck) {
    let claimed = result.received;
    let declared = facts.declared;
    // Orders of the batch refused as invalid arrived too (their `rejected` result went out):
    // they count against the declared number, and nothing of them was paid.
    let arrived = claimed.orders + facts.invalid.orders;
    // Without lines, which orders were declared is not known: orders of the batch beyond the
    // declared count are extra ones, so at most the declared count is final ("4 of 3 declared
    // orders final" read as more than there were).
    result.final_orders = (facts.succeeded.orders + facts.failed.orders + facts.rejected.orders + facts.invalid.orders)
        .min(declared.orders);
    let all_final = result.in_progress.orders == 0;
    result.complete = arrived >= declared.orders && all_final;
    let count = |kind| Difference {
        kind,
        order_id: None,
        declared: Some(declared.orders),
        actual: Some(arrived),
    };
    if arrived > declared.orders {
        result.differences.push(count(DifferenceKind::ExtraOrders));
    } else if closing && arrived < declared.orders {
        result.differences.push(count(DifferenceKind::MissingOrders));
    }
    if facts.invalid.orders > 0 {
        // The totals may still add up (another order paid more), but not every declared order
        // was paid: never balanced.
        result.differences.push(Difference {
            kind: DifferenceKind::InvalidOrders,
            order_id: None,
            declared: None,
            actual: Some(facts.invalid.orders),
        });
    }
    if (closing || arrived >= declared.orders) && claimed.amount != declared.amount {
        result.differences.push(Difference {
            kind: DifferenceKind::TotalMismatch,
            order_id: None,
            declared: Some(declared.amount),
            actual: Some(claimed.amount),
        });
    }
}
