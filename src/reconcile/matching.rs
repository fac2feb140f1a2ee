//! The three-way match, as a pure function: what the gateway instructed (its payments and
//! their amounts), what callbacks and inquiries said (each payment's state and provider
//! reference), and what the provider's statement booked.
//!
//! A statement line names its payment by the payment id (the client reference the gateway
//! sent) or, where the provider only carries the end-to-end id, by the upstream order id.
//!
//! A return is applied ([`ItemKind::Returned`]) only when it is a genuine return (it says why
//! the money came back) and the statement shows no sign that the payment was paid more than
//! once: at most one payout line for it, under the reference the provider reported and of the
//! amount the gateway instructed, no reversal of one of its entries, no extra payout found by
//! an earlier day's reconciliation, and not returned as a duplicate (`AM05`). A bare reversal
//! (`RvslInd` without return information) is usually a duplicate booking taken back and never
//! a return. Everything else is [`ItemKind::ReturnNeedsReview`]: writing `returned` to upstream
//! while the beneficiary still holds one credit would make upstream pay the order twice.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use crate::payment::PaymentState;

use super::statement::{LineKind, StatementLine};

/// One payment as the gateway knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPayment {
    pub payment_id: String,
    pub order_id: String,
    /// Whole đồng, as instructed.
    pub amount: i64,
    /// Where callbacks and inquiries left it.
    pub state: PaymentState,
    /// The provider's reference, as its answers and callbacks reported it.
    pub provider_ref: Option<String>,
    /// When it was first handed to the provider (ms since 1970).
    pub submitted_at: Option<i64>,
    /// The first day a reconciliation found a second payout of it booked (a duplicate line,
    /// or a payout under another reference than the provider reported): a return of it booked
    /// that day or later may be of that extra credit, so it is never applied by itself. (A
    /// return booked before it was of the one credit there was.)
    pub extra_payout_booked_on: Option<NaiveDate>,
    /// The day of an earlier reconciliation that expected it and did not find it — sent in the
    /// grace before that day's midnight (in transit), or not final yet then — when that day is
    /// before this statement's: it is still owed a booking, so it is expected on this one.
    pub carried_since: Option<NaiveDate>,
    /// The day a statement of a later day than it was sent booked it (its day reconciled
    /// before the day it was sent, say): it is not carried from the day it was sent.
    pub booked_late_on: Option<NaiveDate>,
    /// The day of the payout line that first booked it, as the first reconciliation that found
    /// one remembered it: a payout of it booked on another day is a second credit (the same
    /// statement reconciled again books it on the same day, and changes nothing).
    pub first_booked_on: Option<NaiveDate>,
    /// The day it was returned (a statement's return, or a refund a person recorded): it is
    /// owed no booking any more, and a payout of it booked after that day is a second credit —
    /// upstream was told `returned` and may have paid the beneficiary again.
    pub returned_on: Option<NaiveDate>,
}

/// What one reconciliation item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// Booked by the provider as the gateway recorded it.
    Matched,
    /// Succeeded at the gateway, sent that day, but not on the statement.
    MissingAtProvider,
    /// On the statement, but no payment of this provider has its reference.
    UnknownToGateway,
    /// Booked with another amount than the gateway instructed.
    AmountMismatch,
    /// Booked (or returned) by the provider, but the gateway's payment is not `succeeded`.
    StatusMismatch,
    /// Booked under another provider reference than the provider reported to the gateway.
    ReferenceMismatch,
    /// A second payout line for one payment: the provider paid it twice.
    DuplicateOnStatement,
    /// A payout that came back; upstream gets a `returned` result.
    Returned,
    /// A return or reversal that is not applied automatically, because it may not mean the
    /// beneficiary was left unpaid: a reversal without return information (usually of a
    /// duplicate booking); a return with reason `AM05` (returned as a duplicate); or a return of
    /// a payment the statement books more than once, books under another reference than the
    /// provider reported, reverses, or does not book although it was sent that day, or whose
    /// second payout an earlier day's reconciliation found. Nothing is written.
    ReturnNeedsReview,
    /// Succeeded at the gateway and sent within the grace before the day's end, but not on the
    /// statement: the provider most likely booked it after midnight, on the next day's
    /// statement. Does not unbalance the day.
    InTransit,
}

impl ItemKind {
    pub const ALL: [ItemKind; 10] = [
        ItemKind::Matched,
        ItemKind::MissingAtProvider,
        ItemKind::UnknownToGateway,
        ItemKind::AmountMismatch,
        ItemKind::StatusMismatch,
        ItemKind::ReferenceMismatch,
        ItemKind::DuplicateOnStatement,
        ItemKind::Returned,
        ItemKind::ReturnNeedsReview,
        ItemKind::InTransit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Matched => "matched",
            ItemKind::MissingAtProvider => "missing_at_provider",
            ItemKind::UnknownToGateway => "unknown_to_gateway",
            ItemKind::AmountMismatch => "amount_mismatch",
            ItemKind::StatusMismatch => "status_mismatch",
            ItemKind::ReferenceMismatch => "reference_mismatch",
            ItemKind::DuplicateOnStatement => "duplicate_on_statement",
            ItemKind::Returned => "returned",
            ItemKind::ReturnNeedsReview => "return_needs_review",
            ItemKind::InTransit => "in_transit",
        }
    }

    /// Whether the books balance with this item in them: matched payouts, applied returns and
    /// payouts in transit over midnight do.
    pub fn balances(self) -> bool {
        matches!(self, ItemKind::Matched | ItemKind::Returned | ItemKind::InTransit)
    }
}

/// One line of the reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    /// The statement line's own reference; `None` for a payment missing from the statement.
    pub entry_ref: Option<String>,
    /// The payment id; for a line no payment has, the line's reference as the statement says.
    pub payment_id: String,
    pub order_id: Option<String>,
    pub gateway_amount: Option<i64>,
    pub statement_amount: Option<u64>,
    pub gateway_state: Option<PaymentState>,
    /// The provider's return reason code, for a return.
    pub return_reason: Option<String>,
    /// The Vietnam day the statement line was booked; `None` for a missing payment.
    pub booked_on: Option<NaiveDate>,
    /// A sentence for the person reading the report.
    pub note: String,
    /// A payout line that may be a second credit of its payment (a second payout line, or one
    /// under another reference than the provider reported), or that credited another amount
    /// than instructed, whatever else is wrong with it: remembered so that a later day's return
    /// of the payment is reviewed (a return of the instructed amount may leave the beneficiary
    /// holding the rest).
    pub extra_payout: bool,
    /// The line is a payout (money out to the beneficiary), whatever else is wrong with it: what
    /// books a payment. A return, reversal or credit naming it does not.
    pub payout: bool,
}

/// The default grace before the day's end: a payment sent in the last 30 minutes of the day
/// and not on its statement is [`ItemKind::InTransit`], not missing.
pub const DEFAULT_GRACE_MINUTES: u32 = 30;

/// Matches `lines` against `payments`. A payment is expected on the statement when it
/// succeeded and was sent inside `window` (ms since 1970, start inclusive, end exclusive); one
/// sent within `grace_ms` before the window's end and absent is in transit, not missing.
pub fn match_statement(
    lines: &[StatementLine],
    payments: &[GatewayPayment],
    window: (i64, i64),
    grace_ms: i64,
) -> Vec<Item> {
    let by_id: HashMap<&str, &GatewayPayment> = payments.iter().map(|p| (p.payment_id.as_str(), p)).collect();
    let by_order: HashMap<&str, &GatewayPayment> = payments.iter().map(|p| (p.order_id.as_str(), p)).collect();
    let by_reference = |reference: &str| by_id.get(reference).or_else(|| by_order.get(reference)).copied();
    let find = |line: &StatementLine| {
        by_reference(&line.reference).or_else(|| line.other_reference.as_deref().and_then(by_reference))
    };
    // References that name more than one line: a return is remembered by its line's reference,
    // so one of these cannot be applied once and only once.
    let mut lines_by_ref: HashMap<&str, usize> = HashMap::new();
    for line in lines {
        *lines_by_ref.entry(line.entry_ref.as_str()).or_default() += 1;
    }
    // What the whole statement books for each payment, whatever the lines' order.
    let mut booked: HashMap<&str, Booked> = HashMap::new();
    for line in lines {
        if let Some(payment) = find(line) {
            let counts = booked.entry(payment.payment_id.as_str()).or_default();
            match line.kind {
                LineKind::Payout => {
                    counts.payouts += 1;
                    if booked_at_another_amount(payment, line) {
                        counts.at_another_amount += 1;
                    }
                    if booked_under_another_reference(payment, line) {
                        counts.under_another_reference += 1;
                    }
                    if booked_on_another_day(payment, line).is_some() {
                        counts.on_another_day += 1;
                    }
                }
                LineKind::Reversal => counts.reversals += 1,
                LineKind::Credit => counts.credits += 1,
                LineKind::Return { .. } => {}
            }
        }
    }
    let mut paid_out: HashSet<&str> = HashSet::new();
    let mut items = Vec::new();
    for line in lines {
        let Some(payment) = find(line) else {
            if line.kind == LineKind::Credit {
                // Money in that names no payment: the account being funded.
                continue;
            }
            items.push(Item {
                kind: ItemKind::UnknownToGateway,
                entry_ref: Some(line.entry_ref.clone()),
                payment_id: line.reference.clone(),
                order_id: None,
                gateway_amount: None,
                statement_amount: Some(line.amount),
                gateway_state: None,
                return_reason: return_reason(line),
                booked_on: Some(line.booked_on),
                extra_payout: false,
                payout: line.kind == LineKind::Payout,
                note: match line.kind {
                    LineKind::Payout => "the provider booked a payout the gateway never sent".to_string(),
                    LineKind::Return { .. } => "the provider returned a payout the gateway never sent".to_string(),
                    LineKind::Reversal => "the provider reversed a payout the gateway never sent".to_string(),
                    LineKind::Credit => String::new(),
                },
            });
            continue;
        };
        let is_payout = line.kind == LineKind::Payout;
        let repeated = is_payout && !paid_out.insert(payment.payment_id.as_str());
        let amount_differs = booked_at_another_amount(payment, line);
        let reference_differs = is_payout && booked_under_another_reference(payment, line);
        let paid_after_return = payment
            .returned_on
            .filter(|returned_on| is_payout && line.booked_on > *returned_on);
        let booked_before = booked_on_another_day(payment, line).filter(|_| is_payout);
        let (kind, note) = if repeated {
            (
                ItemKind::DuplicateOnStatement,
                "a second payout line for this payment: the provider paid it twice".to_string(),
            )
        } else if let Some(first) = booked_before {
            (
                ItemKind::DuplicateOnStatement,
                format!(
                    "a payout of this payment was booked on {first} already (a statement reconciled before): \
                     the provider paid it twice"
                ),
            )
        } else if let Some(returned_on) = paid_after_return {
            (
                ItemKind::DuplicateOnStatement,
                format!(
                    "booked after it was returned on {returned_on}: upstream was told `returned` and may have paid \
                     the beneficiary again"
                ),
            )
        } else if payment.state != PaymentState::Succeeded {
            let what = match line.kind {
                LineKind::Payout => "booked",
                LineKind::Return { .. } => "returned",
                LineKind::Reversal => "reversed",
                LineKind::Credit => "credited back",
            };
            (
                ItemKind::StatusMismatch,
                format!("the provider {what} it, but the gateway has it {}", payment.state),
            )
        } else if amount_differs {
            (
                ItemKind::AmountMismatch,
                format!(
                    "the statement says {} đồng, the gateway instructed {}",
                    line.amount, payment.amount
                ),
            )
        } else if reference_differs {
            (
                ItemKind::ReferenceMismatch,
                format!(
                    "booked as {}, but the provider reported {} to the gateway",
                    line.entry_ref,
                    payment.provider_ref.as_deref().unwrap_or_default()
                ),
            )
        } else if is_payout {
            (ItemKind::Matched, String::new())
        } else if let Some(why) = needs_review(
            line,
            payment,
            booked.get(payment.payment_id.as_str()),
            lines_by_ref.get(line.entry_ref.as_str()).copied().unwrap_or(1),
            window,
        ) {
            (
                ItemKind::ReturnNeedsReview,
                format!("{why}; nothing written: a person must find out whether the beneficiary still holds a credit"),
            )
        } else {
            (
                ItemKind::Returned,
                "the payout came back after it succeeded".to_string(),
            )
        };
        items.push(Item {
            kind,
            entry_ref: Some(line.entry_ref.clone()),
            payment_id: payment.payment_id.clone(),
            order_id: Some(payment.order_id.clone()),
            gateway_amount: Some(payment.amount),
            statement_amount: Some(line.amount),
            gateway_state: Some(payment.state),
            return_reason: return_reason(line),
            booked_on: Some(line.booked_on),
            extra_payout: repeated
                || reference_differs
                || (is_payout && amount_differs)
                || paid_after_return.is_some()
                || booked_before.is_some(),
            payout: is_payout,
            note,
        });
    }
    let (from, to) = window;
    let grace_from = to.saturating_sub(grace_ms.max(0)).max(from);
    let returned_now = returned_by(&items);
    for payment in payments {
        // A returned payment is owed no booking: its credit came back (or never happened), and
        // one this statement returns is as returned as one returned before.
        if payment.state != PaymentState::Succeeded
            || paid_out.contains(payment.payment_id.as_str())
            || payment.returned_on.is_some()
            || returned_now.contains(payment.payment_id.as_str())
        {
            continue;
        }
        let sent_that_day = payment.submitted_at.filter(|at| *at >= from && *at < to);
        let (kind, note) = match (sent_that_day, payment.carried_since) {
            (Some(sent_at), _) if sent_at >= grace_from => (
                ItemKind::InTransit,
                format!(
                    "sent in the last {} minutes of the day and not on this statement: expected on the next day's",
                    grace_ms / 60_000
                ),
            ),
            (Some(_), _) => (
                ItemKind::MissingAtProvider,
                "succeeded at the gateway, but the provider's statement does not book it".to_string(),
            ),
            (None, Some(since)) => (
                ItemKind::MissingAtProvider,
                format!(
                    "expected since the reconciliation of {since} (in transit over its midnight, or not final \
                     yet then), and not on this statement either"
                ),
            ),
            (None, None) => continue,
        };
        items.push(Item {
            kind,
            entry_ref: None,
            payment_id: payment.payment_id.clone(),
            order_id: Some(payment.order_id.clone()),
            gateway_amount: Some(payment.amount),
            statement_amount: None,
            gateway_state: Some(payment.state),
            return_reason: None,
            booked_on: None,
            extra_payout: false,
            payout: false,
            note,
        });
    }
    items
}

/// The payments whose return `items` apply (a return left for review is not applied).
fn returned_by(items: &[Item]) -> HashSet<String> {
    items
        .iter()
        .filter(|item| item.kind == ItemKind::Returned)
        .map(|item| item.payment_id.clone())
        .collect()
}

/// What a reconciliation leaves to the days after it ([`carry_over`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarryOver {
    /// Payments still owed a booking, with their amounts: in transit over this day's midnight,
    /// or sent this day, not on its statement and not final yet (one that succeeds later must
    /// be booked on a later day's statement). Later days expect them until they are booked.
    pub carry: Vec<(String, i64)>,
    /// Payments carried from an earlier day that are settled now: on this statement, ended
    /// without a credit (failed, rejected), or returned.
    pub settled: Vec<String>,
    /// Payments no reconciliation found booked before that this statement books, with their
    /// amounts and the day of the (first) payout line booking each: remembered, so that a
    /// payout of one booked on another day is found to be a second credit.
    pub first_booked: Vec<(String, i64, NaiveDate)>,
    /// Payments this statement books though they were sent on an earlier day, with their
    /// amounts: remembered, so that the day they were sent, if it is reconciled after this one,
    /// does not carry them (and every later day miss them). Any payout line books it, as the
    /// gateway recorded it or not (a status or amount that differs is this day's item, listed
    /// once, not a reason to expect the payment again every day after).
    pub booked_late: Vec<(String, i64)>,
}

/// Which payments the days after this one must still expect, and which carried ones are
/// settled: without it, a payment in transit over midnight (or still pending when its day was
/// reconciled) was never expected again, and one the provider never booked went unnoticed.
pub fn carry_over(payments: &[GatewayPayment], items: &[Item], window: (i64, i64)) -> CarryOver {
    // Booked by a payout line; a return, reversal or credit naming a payment books nothing (the
    // same run lists a succeeded one missing), so a carried payment stays expected.
    let paid_out: HashSet<&str> = items
        .iter()
        .filter(|item| item.payout)
        .map(|item| item.payment_id.as_str())
        .collect();
    let in_transit: HashSet<&str> = items
        .iter()
        .filter(|item| item.kind == ItemKind::InTransit)
        .map(|item| item.payment_id.as_str())
        .collect();
    let returned_now = returned_by(items);
    let mut carry_over = CarryOver::default();
    // The day of each payment's first payout line in the statement's order: the one the match
    // took as its payout (any after it are `repeated`), so that the same statement reconciled
    // again takes the same line, whatever the days of its lines.
    let mut first_booked: HashMap<&str, NaiveDate> = HashMap::new();
    for item in items.iter().filter(|item| item.payout && item.order_id.is_some()) {
        if let Some(day) = item.booked_on {
            first_booked.entry(item.payment_id.as_str()).or_insert(day);
        }
    }
    for payment in payments {
        let id = payment.payment_id.as_str();
        let booked = paid_out.contains(id);
        if let Some(day) = first_booked.get(id).filter(|_| payment.first_booked_on.is_none()) {
            carry_over.first_booked.push((id.to_string(), payment.amount, *day));
        }
        if booked && payment.submitted_at.is_some_and(|at| at < window.0) {
            carry_over.booked_late.push((id.to_string(), payment.amount));
        }
        if payment.carried_since.is_some() {
            let returned = payment.returned_on.is_some() || returned_now.contains(id);
            if booked || returned || matches!(payment.state, PaymentState::Failed | PaymentState::Rejected) {
                carry_over.settled.push(id.to_string());
            }
            continue;
        }
        let sent_that_day = payment.submitted_at.is_some_and(|at| at >= window.0 && at < window.1);
        let not_final_yet = sent_that_day && !booked && !payment.state.is_final();
        if (in_transit.contains(id) || not_final_yet) && payment.booked_late_on.is_none() {
            carry_over.carry.push((id.to_string(), payment.amount));
        }
    }
    carry_over
}

/// The payout and reversal lines the statement has for one payment.
#[derive(Clone, Copy, Debug, Default)]
struct Booked {
    payouts: usize,
    /// Of the payouts, those booked under another reference than the provider reported.
    under_another_reference: usize,
    /// Of the payouts, those of another amount than the gateway instructed.
    at_another_amount: usize,
    /// Of the payouts, those booked on another day than the payout a reconciliation before
    /// found ([`GatewayPayment::first_booked_on`]).
    on_another_day: usize,
    reversals: usize,
    /// Credits naming the payment without return information.
    credits: usize,
}

/// A line of another amount than the gateway instructed for its payment.
fn booked_at_another_amount(payment: &GatewayPayment, line: &StatementLine) -> bool {
    i64::try_from(line.amount).ok() != Some(payment.amount)
}

/// A payout line whose entry is not the one the provider reported to the gateway: maybe a
/// second credit of the payment.
fn booked_under_another_reference(payment: &GatewayPayment, line: &StatementLine) -> bool {
    payment
        .provider_ref
        .as_deref()
        .is_some_and(|theirs| !theirs.is_empty() && theirs != line.booked_as.as_deref().unwrap_or(&line.entry_ref))
}

/// The day an earlier reconciliation found the payment first booked on, when payout `line` is
/// booked on another: a second credit of it.
fn booked_on_another_day(payment: &GatewayPayment, line: &StatementLine) -> Option<NaiveDate> {
    payment.first_booked_on.filter(|first| *first != line.booked_on)
}

/// The ISO 20022 return reason "duplication": the provider returned a credit *because* it was
/// a second one, so the beneficiary keeps the first.
const RETURNED_AS_DUPLICATE: &str = "AM05";

/// Why a return or reversal of a succeeded payment with the right amount must not be applied
/// automatically, or `None` when it is a genuine return of the one credit the beneficiary got.
fn needs_review(
    line: &StatementLine,
    payment: &GatewayPayment,
    booked: Option<&Booked>,
    lines_with_its_ref: usize,
    window: (i64, i64),
) -> Option<String> {
    if line.kind == LineKind::Credit {
        return Some(
            "a credit names this payment without return information: maybe a return the provider booked \
             without saying so"
                .to_string(),
        );
    }
    if lines_with_its_ref > 1 {
        return Some(format!(
            "the statement gives its reference {} to {lines_with_its_ref} different lines, so the return \
             cannot be remembered as its own line",
            line.entry_ref
        ));
    }
    if line.kind == LineKind::Reversal {
        return Some(
            "the provider reversed an entry of this payment without return information (RvslInd): \
             usually a booking in error such as a duplicate, not a return of the payment"
                .to_string(),
        );
    }
    if matches!(&line.kind, LineKind::Return { reason_code } if reason_code == RETURNED_AS_DUPLICATE) {
        return Some(format!(
            "returned as a duplicate ({RETURNED_AS_DUPLICATE}): the beneficiary may still hold the first credit"
        ));
    }
    if payment.extra_payout_booked_on.is_some_and(|day| day <= line.booked_on) {
        return Some(
            "returned, but an earlier day's reconciliation found a second payout of this payment booked".to_string(),
        );
    }
    let booked = booked.copied().unwrap_or_default();
    if booked.under_another_reference > 0 {
        return Some(
            "returned, but the statement books a payout of it under another reference than the provider reported"
                .to_string(),
        );
    }
    if booked.at_another_amount > 0 {
        return Some(
            "returned, but the statement books its payout at another amount than the gateway instructed: the \
             beneficiary may still hold what the return does not give back"
                .to_string(),
        );
    }
    if booked.on_another_day > 0 {
        return Some(
            "returned, but the statement books a payout of it again, after an earlier statement booked one".to_string(),
        );
    }
    if booked.reversals > 0 {
        return Some(format!(
            "returned, but the statement also reverses {} entry(ies) of this payment",
            booked.reversals
        ));
    }
    if booked.credits > 0 {
        return Some(format!(
            "returned, but the statement also books {} other credit(s) naming this payment",
            booked.credits
        ));
    }
    if booked.payouts > 1 {
        return Some(format!(
            "returned, but the statement books {} payouts of this payment",
            booked.payouts
        ));
    }
    let sent_that_day = payment.submitted_at.is_some_and(|at| at >= window.0 && at < window.1);
    if booked.payouts == 0 && sent_that_day {
        return Some("returned, but the statement does not book its payout although it was sent that day".to_string());
    }
    // One payout on this statement, or a return of a payout booked on an earlier day's
    // statement (whose reconciliation listed and remembered any second payout of it).
    None
}

fn return_reason(line: &StatementLine) -> Option<String> {
    match &line.kind {
        LineKind::Return { reason_code } => Some(reason_code.clone()),
        LineKind::Reversal => Some("RVSL".to_string()),
        LineKind::Payout | LineKind::Credit => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: (i64, i64) = (1_000, 2_000);

    fn payment(id: &str, amount: i64, state: PaymentState, submitted_at: i64) -> GatewayPayment {
        GatewayPayment {
            payment_id: id.into(),
            order_id: format!("order-{id}"),
            amount,
            state,
            provider_ref: Some(format!("FT-{id}")),
            submitted_at: Some(submitted_at),
            extra_payout_booked_on: None,
            carried_since: None,
            booked_late_on: None,
            first_booked_on: None,
            returned_on: None,
        }
    }

    fn line(entry_ref: &str, reference: &str, amount: u64, kind: LineKind) -> StatementLine {
        StatementLine {
            entry_ref: entry_ref.into(),
            booked_as: None,
            reference: reference.into(),
            other_reference: None,
            amount,
            booked_on: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
            kind,
        }
    }

    fn payout(reference: &str, amount: u64) -> StatementLine {
        line(&format!("FT-{reference}"), reference, amount, LineKind::Payout)
    }

    fn kinds(items: &[Item]) -> Vec<(ItemKind, &str)> {
        let mut kinds: Vec<(ItemKind, &str)> = items.iter().map(|i| (i.kind, i.payment_id.as_str())).collect();
        kinds.sort();
        kinds
    }

    #[test]
    fn each_discrepancy_is_found_and_named() {
        use ItemKind::*;
        use PaymentState::{Failed, Pending, Succeeded};
        let payments = [
            payment("a", 1_000, Succeeded, 1_100),
            payment("b", 2_000, Succeeded, 1_200),
            payment("missing", 3_000, Succeeded, 1_300),
            payment("returned", 4_000, Succeeded, 1_400),
            payment("failed", 5_000, Failed, 1_500),
            payment("pending", 6_000, Pending, 1_600),
            // Succeeded, but sent the day before: not expected on this statement.
            payment("yesterday", 7_000, Succeeded, 900),
            payment("other_ref", 8_000, Succeeded, 1_700),
        ];
        let lines = [
            payout("a", 1_000),
            payout("b", 2_500),
            payout("returned", 4_000),
            line(
                "RTN-1",
                "returned",
                4_000,
                LineKind::Return {
                    reason_code: "AC04".into(),
                },
            ),
            payout("stranger", 9_000),
            payout("failed", 5_000),
            line("FT-a-2", "a", 1_000, LineKind::Payout),
            line("FT-elsewhere", "other_ref", 8_000, LineKind::Payout),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (Matched, "a"),
                (Matched, "returned"),
                (MissingAtProvider, "missing"),
                (UnknownToGateway, "stranger"),
                (AmountMismatch, "b"),
                (StatusMismatch, "failed"),
                (ReferenceMismatch, "other_ref"),
                (DuplicateOnStatement, "a"),
                (Returned, "returned"),
            ]
        );
        let returned = items
            .iter()
            .find(|i| i.kind == Returned)
            .map(|i| i.return_reason.clone());
        assert_eq!(returned, Some(Some("AC04".to_string())));
    }

    /// A return that may be of a second credit is listed for a person, never applied: one
    /// returned as a duplicate (`AM05`), one of a payment whose second payout an earlier day's
    /// reconciliation found, and one whose payout this statement books under another reference.
    #[test]
    fn a_return_that_may_be_of_a_second_credit_needs_review() {
        use ItemKind::*;
        let returned = |reference: &str, amount: u64, code: &str| {
            line(
                &format!("RTN-{reference}"),
                reference,
                amount,
                LineKind::Return {
                    reason_code: code.into(),
                },
            )
        };
        let mut paid_twice_before = payment("paid_twice_before", 2_000, PaymentState::Succeeded, 900);
        paid_twice_before.extra_payout_booked_on = NaiveDate::from_ymd_opt(2026, 12, 2);
        // Its second payout was found on a day after this return: the return was of the one
        // credit there was (a run of this day again finds it applied, not in doubt).
        let mut paid_twice_later = payment("paid_twice_later", 5_000, PaymentState::Succeeded, 900);
        paid_twice_later.extra_payout_booked_on = NaiveDate::from_ymd_opt(2026, 12, 4);
        let payments = [
            payment("as_duplicate", 1_000, PaymentState::Succeeded, 900),
            paid_twice_before,
            paid_twice_later,
            payment("other_entry", 3_000, PaymentState::Succeeded, 1_100),
            payment("genuine", 4_000, PaymentState::Succeeded, 900),
        ];
        let lines = [
            returned("as_duplicate", 1_000, "AM05"),
            returned("paid_twice_before", 2_000, "AC04"),
            line("FT-someone-else", "other_entry", 3_000, LineKind::Payout),
            returned("other_entry", 3_000, "AC04"),
            returned("genuine", 4_000, "AC04"),
            returned("paid_twice_later", 5_000, "AC04"),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (ReferenceMismatch, "other_entry"),
                (Returned, "genuine"),
                (Returned, "paid_twice_later"),
                (ReturnNeedsReview, "as_duplicate"),
                (ReturnNeedsReview, "other_entry"),
                (ReturnNeedsReview, "paid_twice_before"),
            ]
        );
    }

    /// A payout line that may be a second credit is flagged to be remembered whatever kind of
    /// item it is: a second line, or one under another reference with the wrong amount or for a
    /// payment not succeeded, and the payment's own entry of another amount than instructed;
    /// the payment's own payout of its amount is not.
    #[test]
    fn a_possible_second_credit_is_flagged_whatever_else_is_wrong_with_it() {
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 1_100),
            payment("b", 2_000, PaymentState::Succeeded, 900),
            payment("c", 3_000, PaymentState::Pending, 900),
            payment("d", 4_000, PaymentState::Succeeded, 1_100),
        ];
        let lines = [
            payout("a", 1_000),
            line("FT-a-again", "a", 1_000, LineKind::Payout),
            line("FT-b-other", "b", 2_500, LineKind::Payout),
            line("FT-c-other", "c", 3_000, LineKind::Payout),
            // Its own entry, but of another amount than instructed.
            line("FT-d", "d", 4_500, LineKind::Payout),
        ];
        let flagged: Vec<(ItemKind, String, bool)> = match_statement(&lines, &payments, DAY, 0)
            .into_iter()
            .map(|item| (item.kind, item.entry_ref.unwrap_or_default(), item.extra_payout))
            .collect();
        let expected = [
            (ItemKind::Matched, "FT-a", false),
            (ItemKind::DuplicateOnStatement, "FT-a-again", true),
            (ItemKind::AmountMismatch, "FT-b-other", true),
            (ItemKind::StatusMismatch, "FT-c-other", true),
            (ItemKind::AmountMismatch, "FT-d", true),
        ]
        .map(|(kind, entry, extra)| (kind, entry.to_string(), extra));
        assert_eq!(flagged, expected);
    }

    /// A return of the instructed amount, on the day the statement books the payout at another
    /// (a tenfold credit): applied, it told upstream `returned`, freed the beneficiary's period
    /// and the reissued order paid them again while they still held the rest.
    #[test]
    fn a_return_beside_a_payout_of_another_amount_needs_review() {
        let payments = [payment("p", 500_000, PaymentState::Succeeded, 1_100)];
        let lines = [
            payout("p", 5_000_000),
            line(
                "RTN-p",
                "p",
                500_000,
                LineKind::Return {
                    reason_code: "AC04".into(),
                },
            ),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [(ItemKind::AmountMismatch, "p"), (ItemKind::ReturnNeedsReview, "p")]
        );
        let review = items.iter().find(|item| item.kind == ItemKind::ReturnNeedsReview);
        assert!(
            review.is_some_and(|item| item.note.contains("another amount")),
            "{items:?}"
        );
    }

    #[test]
    fn a_clean_day_is_all_matched_and_balances() {
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 1_100),
            payment("b", 2_000, PaymentState::Succeeded, 1_200),
            payment("failed", 5_000, PaymentState::Failed, 1_500),
        ];
        let items = match_statement(&[payout("a", 1_000), payout("b", 2_000)], &payments, DAY, 0);
        assert_eq!(items.len(), 2);
        assert!(items
            .iter()
            .all(|item| item.kind == ItemKind::Matched && item.kind.balances()));
    }

    fn reversal(reference: &str, amount: u64) -> StatementLine {
        line(&format!("RVSL-{reference}"), reference, amount, LineKind::Reversal)
    }

    fn genuine_return(reference: &str, amount: u64) -> StatementLine {
        line(
            &format!("RTN-{reference}"),
            reference,
            amount,
            LineKind::Return {
                reason_code: "AC04".into(),
            },
        )
    }

    /// Two different returns under one statement reference: the store remembers a return by
    /// its reference, so the second was taken as applied before and never told upstream.
    #[test]
    fn returns_that_share_a_reference_are_listed_for_review() {
        use ItemKind::*;
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 500),
            payment("b", 2_000, PaymentState::Succeeded, 500),
        ];
        let shared = |reference: &str, amount| {
            line(
                "RTN-SHARED",
                reference,
                amount,
                LineKind::Return {
                    reason_code: "AC04".into(),
                },
            )
        };
        let items = match_statement(&[shared("a", 1_000), shared("b", 2_000)], &payments, DAY, 0);
        assert_eq!(kinds(&items), [(ReturnNeedsReview, "a"), (ReturnNeedsReview, "b")]);
        assert!(items.iter().all(|item| item.note.contains("RTN-SHARED")), "{items:?}");
    }

    /// A credit naming a payment, without return information, was dropped as funding: money
    /// back in the account for a payment upstream believes paid, and the day balanced.
    #[test]
    fn a_credit_naming_a_payment_is_listed_for_review_and_one_naming_none_is_funding() {
        use ItemKind::*;
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 500),
            payment("b", 2_000, PaymentState::Succeeded, 500),
        ];
        let lines = [
            line("CR-a", "a", 1_000, LineKind::Credit),
            line("CR-funding", "treasury-transfer-7", 90_000, LineKind::Credit),
            line("CR-b", "b", 2_000, LineKind::Credit),
            genuine_return("b", 2_000),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (ReturnNeedsReview, "a"),
                (ReturnNeedsReview, "b"),
                (ReturnNeedsReview, "b")
            ]
        );
        assert!(items.iter().all(|item| !item.kind.balances()));
    }

    /// A return whose `InstrId` is the bank's own id and whose `EndToEndId` names the order
    /// was "a payout the gateway never sent", and never applied.
    #[test]
    fn a_line_is_found_by_its_other_reference_when_the_first_names_no_payment() {
        use ItemKind::*;
        let payments = [payment("a", 1_000, PaymentState::Succeeded, 500)];
        let mut returned = genuine_return("BANK-RTN-9", 1_000);
        returned.other_reference = Some("order-a".into());
        let items = match_statement(&[returned], &payments, DAY, 0);
        assert_eq!(kinds(&items), [(Returned, "a")]);
    }

    /// A payment in transit over an earlier day's midnight, or not final then, was never
    /// expected again: one the provider never booked went unnoticed on every later day.
    #[test]
    fn a_payment_carried_from_an_earlier_day_is_expected_until_it_is_booked() {
        use ItemKind::*;
        let carried = |id: &str, state| {
            let mut p = payment(id, 1_000, state, 500);
            p.carried_since = NaiveDate::from_ymd_opt(2026, 12, 2);
            p
        };
        let payments = [
            carried("booked", PaymentState::Succeeded),
            carried("never_booked", PaymentState::Succeeded),
            carried("still_pending", PaymentState::Pending),
            carried("failed_since", PaymentState::Failed),
            payment("yesterday_not_carried", 1_000, PaymentState::Succeeded, 500),
        ];
        let items = match_statement(&[payout("booked", 1_000)], &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [(Matched, "booked"), (MissingAtProvider, "never_booked")]
        );
        assert!(
            items[1].note.contains("since the reconciliation of 2026-12-02"),
            "{items:?}"
        );
        let carried = carry_over(&payments, &items, DAY);
        assert_eq!(carried.settled, ["booked", "failed_since"]);
        assert!(carried.carry.is_empty(), "already carried: {carried:?}");
    }

    /// A statement line that names a carried payment without paying it out (a credit without
    /// return information, a reversal, a return left for review) settled it: the same run
    /// listed it missing and then stopped expecting it, and `carried` forgot it. It stays
    /// carried until a payout line books it.
    #[test]
    fn a_carried_payment_named_by_a_line_that_is_no_payout_stays_expected() {
        let mut carried = payment("p", 1_000, PaymentState::Succeeded, 500);
        carried.carried_since = NaiveDate::from_ymd_opt(2026, 12, 2);
        let credit = line("CR-1", "p", 1_000, LineKind::Credit);
        let items = match_statement(&[credit], std::slice::from_ref(&carried), DAY, 0);
        assert!(
            items.iter().any(|item| item.kind == ItemKind::MissingAtProvider),
            "{items:?}"
        );
        let after = carry_over(std::slice::from_ref(&carried), &items, DAY);
        assert!(after.settled.is_empty(), "still expected: {after:?}");
        let booked = match_statement(&[payout("p", 1_000)], std::slice::from_ref(&carried), DAY, 0);
        assert_eq!(carry_over(&[carried], &booked, DAY).settled, ["p"]);
    }

    /// A returned payment (a statement's return, or a refund a person recorded) was still
    /// expected and listed missing, stayed carried for ever, and a payout of it booked after the
    /// return matched though upstream had been told `returned`.
    #[test]
    fn a_returned_payment_is_owed_no_booking_and_a_payout_after_its_return_is_flagged() {
        use ItemKind::*;
        let returned = |id: &str, on: u32, carried: bool| {
            let mut p = payment(id, 1_000, PaymentState::Succeeded, 1_100);
            p.returned_on = NaiveDate::from_ymd_opt(2026, 12, on);
            p.carried_since = NaiveDate::from_ymd_opt(2026, 12, 1).filter(|_| carried);
            p
        };
        let payments = [
            returned("refunded_today", 3, false),
            returned("refunded_carried", 2, true),
            returned("paid_after_its_return", 2, false),
            returned("returned_later", 5, false),
        ];
        let lines = [payout("paid_after_its_return", 1_000), payout("returned_later", 1_000)];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (Matched, "returned_later"),
                (DuplicateOnStatement, "paid_after_its_return")
            ],
            "{items:?}"
        );
        assert!(items
            .iter()
            .any(|item| item.extra_payout && item.note.contains("returned on 2026-12-02")));
        let carried = carry_over(&payments, &items, DAY);
        assert_eq!(carried.settled, ["refunded_carried"]);
        assert!(carried.carry.is_empty(), "{carried:?}");
    }

    /// A carried payment whose payout was booked on a statement not reconciled yet, returned
    /// on this one: the return is applied, and the same run listed it missing too (and the
    /// run after it, on the same statement, did not).
    #[test]
    fn a_carried_payment_returned_by_this_statement_is_not_also_missing() {
        let mut carried = payment("p", 1_000, PaymentState::Succeeded, 500);
        carried.carried_since = NaiveDate::from_ymd_opt(2026, 12, 2);
        let items = match_statement(&[genuine_return("p", 1_000)], std::slice::from_ref(&carried), DAY, 0);
        assert_eq!(kinds(&items), [(ItemKind::Returned, "p")]);
        assert_eq!(carry_over(&[carried], &items, DAY).settled, ["p"], "no longer expected");
    }

    /// A payment sent on an earlier day that this statement books with another status or
    /// amount than the gateway's is booked all the same: remembered as booked late, so that its
    /// own day, reconciled after this one, does not carry it and every day after list it
    /// missing (only a line the gateway matched was remembered).
    #[test]
    fn a_payment_booked_late_with_a_difference_is_remembered_as_booked() {
        let payments = [
            payment("pending", 1_000, PaymentState::Pending, 500),
            payment("other_amount", 2_000, PaymentState::Succeeded, 600),
            payment("matched", 3_000, PaymentState::Succeeded, 700),
        ];
        let lines = [
            payout("pending", 1_000),
            payout("other_amount", 2_500),
            payout("matched", 3_000),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (ItemKind::Matched, "matched"),
                (ItemKind::AmountMismatch, "other_amount"),
                (ItemKind::StatusMismatch, "pending"),
            ]
        );
        let carried = carry_over(&payments, &items, DAY);
        let late: Vec<&str> = carried.booked_late.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(late, ["pending", "other_amount", "matched"]);
    }

    /// A payment a reconciliation before found booked on the 1st is booked again on the 3rd,
    /// with a return: that payout is a second credit, and the return is for a person (before,
    /// the payout matched and the return was applied: upstream, told `returned`, would pay
    /// again a beneficiary who still held the first credit). The statement of its first
    /// booking, reconciled again, finds the same line on the same day: matched, as before.
    #[test]
    fn a_payout_booked_on_another_day_than_its_first_booking_is_a_second_credit() {
        use ItemKind::*;
        let lines = [payout("p", 1_000), genuine_return("p", 1_000)];
        let mut paid = payment("p", 1_000, PaymentState::Succeeded, 500);
        paid.first_booked_on = NaiveDate::from_ymd_opt(2026, 12, 1);
        let items = match_statement(&lines, std::slice::from_ref(&paid), DAY, 0);
        assert_eq!(kinds(&items), [(DuplicateOnStatement, "p"), (ReturnNeedsReview, "p")]);
        let second = items.iter().find(|item| item.kind == DuplicateOnStatement);
        assert!(
            second.is_some_and(|item| item.extra_payout && item.note.contains("booked on 2026-12-01 already")),
            "{second:?}"
        );
        assert!(
            carry_over(std::slice::from_ref(&paid), &items, DAY)
                .first_booked
                .is_empty(),
            "remembered once"
        );

        paid.first_booked_on = NaiveDate::from_ymd_opt(2026, 12, 3);
        let again = match_statement(&lines, std::slice::from_ref(&paid), DAY, 0);
        assert_eq!(kinds(&again), [(Matched, "p"), (Returned, "p")]);

        let fresh = payment("q", 2_000, PaymentState::Succeeded, 1_100);
        let items = match_statement(&[payout("q", 2_000)], std::slice::from_ref(&fresh), DAY, 0);
        assert_eq!(
            carry_over(&[fresh], &items, DAY).first_booked,
            [(
                "q".to_string(),
                2_000,
                NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default()
            )]
        );
    }

    /// Two payouts of one payment on a statement of several days, the later day's line first:
    /// the match takes the first line as the payout and the second as the duplicate, and the
    /// day remembered is that first line's, so the same statement reconciled again says the
    /// same (remembering the earlier day made both lines duplicates on the second run).
    #[test]
    fn a_statement_reconciled_again_takes_the_same_line_as_the_payout() {
        use ItemKind::*;
        let mut earlier = line("FT-p-1", "p", 1_000, LineKind::Payout);
        earlier.booked_on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        let lines = [payout("p", 1_000), earlier];
        let mut paid = payment("p", 1_000, PaymentState::Succeeded, 500);
        let first = match_statement(&lines, std::slice::from_ref(&paid), DAY, 0);
        assert_eq!(kinds(&first), [(Matched, "p"), (DuplicateOnStatement, "p")]);
        let remembered = carry_over(std::slice::from_ref(&paid), &first, DAY).first_booked;
        assert_eq!(remembered.len(), 1);
        paid.first_booked_on = Some(remembered[0].2);
        let again = match_statement(&lines, std::slice::from_ref(&paid), DAY, 0);
        assert_eq!(kinds(&again), kinds(&first));
    }

    #[test]
    fn what_a_day_leaves_to_the_next_is_in_transit_or_not_final_yet() {
        let grace = 300;
        let payments = [
            payment("late", 1_000, PaymentState::Succeeded, DAY.1 - 100),
            payment("pending", 2_000, PaymentState::Pending, 1_100),
            payment("review", 3_000, PaymentState::NeedsReview, 1_200),
            payment("failed", 4_000, PaymentState::Failed, 1_300),
            payment("booked_pending", 5_000, PaymentState::Pending, 1_400),
            payment("matched", 6_000, PaymentState::Succeeded, 1_500),
            payment("yesterday_pending", 7_000, PaymentState::Pending, 500),
        ];
        let lines = [payout("booked_pending", 5_000), payout("matched", 6_000)];
        let items = match_statement(&lines, &payments, DAY, grace);
        let carried = carry_over(&payments, &items, DAY);
        let carry: Vec<(&str, i64)> = carried
            .carry
            .iter()
            .map(|(id, amount)| (id.as_str(), *amount))
            .collect();
        assert_eq!(carry, [("late", 1_000), ("pending", 2_000), ("review", 3_000)]);
        assert!(carried.settled.is_empty());
    }

    /// A batch entry's lines named `FT-BATCH/1`, `FT-BATCH/2` (its transactions shared its
    /// reference) were payouts under another reference than the `FT-BATCH` the bank reported.
    #[test]
    fn a_line_of_a_batch_entry_is_booked_under_the_entrys_reference() {
        use ItemKind::*;
        let mut a = payment("a", 1_000, PaymentState::Succeeded, 1_100);
        a.provider_ref = Some("FT-BATCH".into());
        let mut b = payment("b", 2_000, PaymentState::Succeeded, 1_200);
        b.provider_ref = Some("FT-BATCH".into());
        let lines = [
            line("FT-BATCH/1", "a", 1_000, LineKind::Payout),
            line("FT-BATCH/2", "b", 2_000, LineKind::Payout),
        ]
        .map(|mut line| {
            line.booked_as = Some("FT-BATCH".into());
            line
        });
        let items = match_statement(&lines, &[a, b], DAY, 0);
        assert_eq!(kinds(&items), [(Matched, "a"), (Matched, "b")]);
    }

    #[test]
    fn a_reversed_duplicate_payout_is_not_a_return() {
        use ItemKind::*;
        // The bank booked pay_x twice and reversed the duplicate: one credit reached the
        // beneficiary, so upstream must not hear `returned`.
        let payments = [payment("x", 1_000, PaymentState::Succeeded, 1_100)];
        let lines = [
            line("FT-x", "x", 1_000, LineKind::Payout),
            line("FT-x-2", "x", 1_000, LineKind::Payout),
            reversal("x", 1_000),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [(Matched, "x"), (DuplicateOnStatement, "x"), (ReturnNeedsReview, "x")]
        );
        assert!(items.iter().all(|item| item.kind != Returned));
        assert!(!ReturnNeedsReview.balances());
        let review = items.iter().find(|i| i.kind == ReturnNeedsReview);
        assert!(
            review.is_some_and(|i| i.note.contains("RvslInd") && i.note.contains("nothing written")),
            "{review:?}"
        );
    }

    #[test]
    fn a_genuine_return_is_applied_only_when_the_payment_was_paid_once() {
        use ItemKind::*;
        use PaymentState::Succeeded;
        let payments = [
            // Booked twice, one of them returned: the beneficiary still holds one credit.
            payment("twice", 1_000, Succeeded, 1_100),
            // Booked once, then a reversal and a return: for a person.
            payment("reversed", 2_000, Succeeded, 1_200),
            // Booked on an earlier day's statement, returned today: applied.
            payment("earlier", 3_000, Succeeded, 900),
            // Sent today, not booked, yet returned: for a person.
            payment("unbooked", 4_000, Succeeded, 1_300),
            // Booked once and returned: applied.
            payment("once", 5_000, Succeeded, 1_400),
        ];
        let lines = [
            genuine_return("twice", 1_000),
            payout("twice", 1_000),
            line("FT-twice-2", "twice", 1_000, LineKind::Payout),
            payout("reversed", 2_000),
            reversal("reversed", 2_000),
            genuine_return("reversed", 2_000),
            genuine_return("earlier", 3_000),
            genuine_return("unbooked", 4_000),
            payout("once", 5_000),
            genuine_return("once", 5_000),
        ];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(
            kinds(&items),
            [
                (Matched, "once"),
                (Matched, "reversed"),
                (Matched, "twice"),
                (MissingAtProvider, "unbooked"),
                (DuplicateOnStatement, "twice"),
                (Returned, "earlier"),
                (Returned, "once"),
                (ReturnNeedsReview, "reversed"),
                (ReturnNeedsReview, "reversed"),
                (ReturnNeedsReview, "twice"),
                (ReturnNeedsReview, "unbooked"),
            ]
        );
    }

    #[test]
    fn a_line_may_name_its_payment_by_the_order_id() {
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 1_100),
            payment("b", 2_000, PaymentState::Succeeded, 1_200),
        ];
        // camt.053 with only the end-to-end id, which the bank adapter sends as the order id.
        let lines = [payout("a", 1_000), line("FT-b", "order-b", 2_000, LineKind::Payout)];
        let items = match_statement(&lines, &payments, DAY, 0);
        assert_eq!(kinds(&items), [(ItemKind::Matched, "a"), (ItemKind::Matched, "b")]);
        assert_eq!(items[1].order_id.as_deref(), Some("order-b"));
    }

    #[test]
    fn a_payment_sent_just_before_midnight_and_booked_after_is_in_transit() {
        use ItemKind::*;
        const MINUTE: i64 = 60_000;
        let day = (0, 24 * 60 * MINUTE);
        let grace = i64::from(DEFAULT_GRACE_MINUTES) * MINUTE;
        let payments = [
            // 23:59:59: booked by the provider at 00:00:02, on the next day's statement.
            payment("late", 1_000, PaymentState::Succeeded, day.1 - 1_000),
            // 23:29:59: before the grace, so missing.
            payment("early", 2_000, PaymentState::Succeeded, day.1 - 30 * MINUTE - 1_000),
            payment("booked", 3_000, PaymentState::Succeeded, day.1 - 1_000),
        ];
        let items = match_statement(&[payout("booked", 3_000)], &payments, day, grace);
        assert_eq!(
            kinds(&items),
            [(Matched, "booked"), (MissingAtProvider, "early"), (InTransit, "late")]
        );
        assert!(InTransit.balances());
        let late = items.iter().find(|i| i.kind == InTransit);
        assert!(late.is_some_and(|i| i.note.contains("30 minutes")), "{late:?}");
        // Without grace, the late payment is missing, as before.
        let strict = match_statement(&[payout("booked", 3_000)], &payments, day, 0);
        assert_eq!(
            kinds(&strict),
            [
                (Matched, "booked"),
                (MissingAtProvider, "early"),
                (MissingAtProvider, "late")
            ]
        );
    }

    #[test]
    fn a_return_of_a_payment_the_gateway_did_not_see_succeed_is_a_status_mismatch() {
        let payments = [payment("p", 1_000, PaymentState::NeedsReview, 1_100)];
        let returned = line(
            "RTN-p",
            "p",
            1_000,
            LineKind::Return {
                reason_code: "AC04".into(),
            },
        );
        let items = match_statement(&[returned], &payments, DAY, 0);
        assert_eq!(kinds(&items), [(ItemKind::StatusMismatch, "p")]);
        assert!(!ItemKind::StatusMismatch.balances());
    }
}
