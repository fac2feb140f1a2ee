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
    /// Manifest without lines: more orders than declared (counts).
    ExtraOrders,
    /// Manifest without lines: the amounts received do not add up to the declared total.
    TotalMismatch,
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

/// Checks `received` (every order of the batch the store knows, each order id once) against
/// `declared`. While the batch is open (`closing` false) an order not yet arrived is only
/// awaited; when it closes, it is missing. With lines, each difference names its order and
/// the listed differences explain the whole gap in the totals, so no `total_mismatch` is
/// added; without lines, counts and totals are compared.
pub fn check(declared: &Declared, received: &[ReceivedOrder], closing: bool) -> BatchCheck {
    let mut result = BatchCheck {
        declared: Tally {
            orders: declared.order_count,
            amount: declared.total_amount,
        },
        ..BatchCheck::default()
    };
    for order in received {
        match order.outcome {
            Outcome::Invalid => result.invalid.add(order.amount),
            outcome => {
                result.received.add(order.amount);
                match outcome {
                    Outcome::Succeeded => result.succeeded.add(order.amount),
                    Outcome::Failed => result.failed.add(order.amount),
                    Outcome::Rejected => result.rejected.add(order.amount),
                    _ => result.in_progress.add(order.amount),
                }
            }
        }
    }
    match &declared.lines {
        Some(lines) => check_lines(lines, received, closing, &mut result),
        None => check_totals(declared, received, closing, &mut result),
    }
    result
        .differences
        .sort_by(|a, b| (a.kind, &a.order_id).cmp(&(b.kind, &b.order_id)));
    result
}

fn check_lines(lines: &[(String, u64)], received: &[ReceivedOrder], closing: bool, result: &mut BatchCheck) {
    let by_id: HashMap<&str, &ReceivedOrder> = received.iter().map(|order| (order.order_id.as_str(), order)).collect();
    let mut missing = 0;
    for (order_id, amount) in lines {
        let difference = |kind, actual| Difference {
            kind,
            order_id: Some(order_id.clone()),
            declared: Some(*amount),
            actual,
        };
        match by_id.get(order_id.as_str()) {
            None => {
                missing += 1;
                if closing {
                    result.differences.push(difference(DifferenceKind::MissingOrder, None));
                }
            }
            Some(order) => {
                if order.outcome.is_final() {
                    result.final_orders += 1;
                }
                if order.outcome == Outcome::Invalid {
                    result.differences.push(difference(DifferenceKind::InvalidOrder, None));
                } else if order.amount != *amount {
                    result
                        .differences
                        .push(difference(DifferenceKind::AmountMismatch, Some(order.amount)));
                }
            }
        }
    }
    let listed: HashSet<&str> = lines.iter().map(|(order_id, _)| order_id.as_str()).collect();
    for order in received {
        if order.outcome != Outcome::Invalid && !listed.contains(order.order_id.as_str()) {
            result.differences.push(Difference {
                kind: DifferenceKind::ExtraOrder,
                order_id: Some(order.order_id.clone()),
                declared: None,
                actual: Some(order.amount),
            });
        }
    }
    result.complete = missing == 0 && result.final_orders == lines.len() as u64;
}

fn check_totals(declared: &Declared, received: &[ReceivedOrder], closing: bool, result: &mut BatchCheck) {
    let claimed = result.received;
    result.final_orders = received.iter().filter(|order| order.outcome.is_final()).count() as u64;
    let all_final = result.in_progress.orders == 0;
    result.complete = claimed.orders >= declared.order_count && all_final;
    let count = |kind| Difference {
        kind,
        order_id: None,
        declared: Some(declared.order_count),
        actual: Some(claimed.orders),
    };
    if claimed.orders > declared.order_count {
        result.differences.push(count(DifferenceKind::ExtraOrders));
    } else if closing && claimed.orders < declared.order_count {
        result.differences.push(count(DifferenceKind::MissingOrders));
    }
    if (closing || claimed.orders >= declared.order_count) && claimed.amount != declared.total_amount {
        result.differences.push(Difference {
            kind: DifferenceKind::TotalMismatch,
            order_id: None,
            declared: Some(declared.total_amount),
            actual: Some(claimed.amount),
        });
    }
}
