//! `gateway reconcile`: a provider's end-of-day statement against the gateway's books.
//!
//! A three-way match between what the gateway instructed (its payments and their amounts),
//! what the providers' callbacks and inquiries said (each payment's state and provider
//! reference) and the provider's statement ([`matching`], a pure function). The statement is
//! read in the provider's own format ([`camt053`] for banks, [`csv_layouts`] for VNPost and the
//! wallets). A payout the provider returned is applied once per statement line
//! ([`Store::apply_return`]): a final `returned` result for upstream with the next `seq`, and a
//! line in the payment's event log. Only a genuine return of a payment the statement shows paid
//! once is applied; a reversal, or a return of a payment paid twice, is listed for a person
//! ([`ItemKind::ReturnNeedsReview`]) and nothing is written.

pub mod camt053;
pub mod csv_layouts;
pub mod matching;
pub mod output;
pub mod statement;

use chrono::{NaiveDate, NaiveTime};
use gateway_adapter::Channel;

pub(crate) use csv_layouts::line_at;
pub use matching::{match_statement, CarryOver, GatewayPayment, Item, ItemKind, DEFAULT_GRACE_MINUTES};
pub use statement::{LineKind, ParsedStatement, StatementError, StatementLine};

use crate::store::{ExtraPayout, ReturnOutcome, ReturnToApply, Store, StoreError};

/// Exit code: every statement line matched or was a return, and nothing is missing.
pub const EXIT_BALANCED: u8 = 0;
/// Exit code: the books do not balance; the report lists what a person must look at.
pub const EXIT_NOT_BALANCED: u8 = 3;
/// Exit code: the statement could not be read (missing file, wrong format, no day).
pub const EXIT_BAD_STATEMENT: u8 = 4;

/// The largest statement `gateway reconcile` reads: 256 MiB. A day's statement of a province is
/// a few MiB; the whole file is held in memory and an XML statement is parsed into a tree of
/// several times its size, so a larger file is refused (exit 4) before it is read rather than
/// exhausting memory.
pub const MAX_STATEMENT_BYTES: u64 = 256 * 1024 * 1024;

/// The file formats statements come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StatementFormat {
    /// ISO 20022 camt.053.001.08 XML (banks).
    Camt053,
    /// VNPost's `;`-separated CSV.
    VnpostCsv,
    /// The wallet providers' `,`-separated CSV.
    WalletCsv,
}

impl StatementFormat {
    /// The format the statements of a provider paying `channel` come in: banks send camt.053,
    /// VNPost and the wallets their own CSV layouts.
    pub fn for_channel(channel: Channel) -> Self {
        match channel {
            Channel::BankTransfer => StatementFormat::Camt053,
            Channel::VnpostAccount => StatementFormat::VnpostCsv,
            Channel::MobileMoney => StatementFormat::WalletCsv,
        }
    }

    pub fn parse(self, bytes: &[u8]) -> Result<ParsedStatement, StatementError> {
        match self {
            StatementFormat::Camt053 => camt053::parse(bytes),
            StatementFormat::VnpostCsv => csv_layouts::parse_vnpost(bytes),
            StatementFormat::WalletCsv => csv_layouts::parse_wallet(bytes),
        }
    }
}

/// The outcome of one reconciliation.
#[derive(Clone, Debug)]
pub struct Reconciliation {
    pub provider: String,
    /// The Vietnam day reconciled.
    pub day: NaiveDate,
    pub items: Vec<Item>,
}

impl Reconciliation {
    /// How many items are of `kind`.
    pub fn count(&self, kind: ItemKind) -> usize {
        self.items.iter().filter(|item| item.kind == kind).count()
    }

    /// True when every item is matched, an applied return or in transit: the books balance.
    pub fn balanced(&self) -> bool {
        self.items.iter().all(|item| item.kind.balances())
    }

    /// [`EXIT_BALANCED`] or [`EXIT_NOT_BALANCED`].
    pub fn exit_code(&self) -> u8 {
        if self.balanced() {
            EXIT_BALANCED
        } else {
            EXIT_NOT_BALANCED
        }
    }
}

/// Why a reconciliation did not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the statement cannot be read: {0}")]
    Statement(#[from] StatementError),
    #[error(
        "the statement does not say which day it covers and its lines are not all of one day; give --date YYYY-MM-DD"
    )]
    NoDay,
    #[error("the statement covers {statement}, not {asked}; leave out --date or fetch the statement of {asked}")]
    DateMismatch { statement: NaiveDate, asked: NaiveDate },
    #[error(
        "the statement covers {from} to {to}; give --date with the day of it to reconcile (payments sent on its other \
         days are expected only when their day is reconciled)"
    )]
    SeveralDays { from: NaiveDate, to: NaiveDate },
    #[error("the store could not be read: {0}")]
    Read(#[from] sqlx::Error),
    #[error("the store could not record a return: {0}")]
    Write(#[from] StoreError),
}

impl ReconcileError {
    /// True when the statement is at fault, not the store.
    pub fn is_bad_statement(&self) -> bool {
        matches!(
            self,
            ReconcileError::Statement(_)
                | ReconcileError::NoDay
                | ReconcileError::DateMismatch { .. }
                | ReconcileError::SeveralDays { .. }
        )
    }
}

/// The Vietnam day as milliseconds since 1970, start inclusive, end exclusive.
pub fn day_window(day: NaiveDate) -> (i64, i64) {
    let start = |date: NaiveDate| {
        date.and_time(NaiveTime::MIN)
            .and_local_timezone(statement::vietnam())
            .single()
            .map(|at| at.timestamp_millis())
            .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
    };
    // The calendar's last day (only a corrupt statement names it) runs to the end of time.
    (start(day), day.succ_opt().map_or(i64::MAX, start))
}

/// The day to reconcile: `asked` (`--date`), which must be the statement's own day when it
/// names one, else the day the statement covers.
pub fn day_to_reconcile(statement: &ParsedStatement, asked: Option<NaiveDate>) -> Result<NaiveDate, ReconcileError> {
    if let Some((from, to)) = statement.several_days {
        return match asked {
            Some(asked) if (from..=to).contains(&asked) => Ok(asked),
            _ => Err(ReconcileError::SeveralDays { from, to }),
        };
    }
    match (asked, statement.date) {
        (Some(asked), Some(own)) if asked != own => Err(ReconcileError::DateMismatch { statement: own, asked }),
        (Some(asked), _) => Ok(asked),
        (None, _) => statement.day().ok_or(ReconcileError::NoDay),
    }
}

/// What an ISO 20022 return reason code means, in words for upstream.
pub fn return_reason_text(code: &str) -> &'static str {
    match code {
        "AC01" => "the account number is wrong",
        "AC04" => "the account is closed",
        "AC06" => "the account is blocked",
        "AG01" => "the account does not accept this kind of credit",
        "AM05" => "it was a duplicate",
        "BE01" => "the account holder is not the beneficiary",
        "MD07" => "the beneficiary has died",
        "RVSL" => "the provider reversed the entry",
        _ => "for a reason the provider gave by code",
    }
}

/// Reconciles `statement` (the file's bytes, in `format`) of `provider` for `date` (else the
/// day the statement says), and applies the returns it finds. A payment sent in the last
/// `grace_minutes` of the day and not on the statement is in transit, not missing.
pub async fn reconcile(
    store: &Store,
    provider: &str,
    format: StatementFormat,
    statement: &[u8],
    date: Option<NaiveDate>,
    grace_minutes: u32,
) -> Result<Reconciliation, ReconcileError> {
    reconcile_parsed(store, provider, format.parse(statement)?, date, grace_minutes).await
}

/// [`reconcile`], for a statement already read (`gateway reconcile` reads it before it opens
/// the store, so that a bad file is told as such wherever the store is).
pub async fn reconcile_parsed(
    store: &Store,
    provider: &str,
    statement: ParsedStatement,
    date: Option<NaiveDate>,
    grace_minutes: u32,
) -> Result<Reconciliation, ReconcileError> {
    let day = day_to_reconcile(&statement, date)?;
    let window = day_window(day);
    let references: Vec<String> = statement
        .lines
        .iter()
        .flat_map(|line| std::iter::once(&line.reference).chain(&line.other_reference))
        .cloned()
        .collect();
    let mut payments = store.reconciliation_payments(provider, &references, window).await?;
    // A reference no payment id has may be an order id (camt.053 `EndToEndId`).
    let mut known: std::collections::HashSet<String> = payments.iter().map(|p| p.payment_id.clone()).collect();
    let unresolved: Vec<String> = references
        .iter()
        .filter(|reference| !known.contains(reference.as_str()))
        .cloned()
        .collect();
    for payment in store.reconciliation_payments_by_order(provider, &unresolved).await? {
        if known.insert(payment.payment_id.clone()) {
            payments.push(payment);
        }
    }
    // Payments an earlier day expected and did not find are expected on this one too.
    for payment in store.carried_payments(provider, &day.to_string()).await? {
        if known.insert(payment.payment_id.clone()) {
            payments.push(payment);
        }
    }
    for payment in &mut payments {
        // Carried from this day or a later one (a day reconciled again) is not carried into it.
        payment.carried_since = payment.carried_since.filter(|since| *since < day);
    }
    let grace_ms = i64::from(grace_minutes) * 60_000;
    let mut items = match_statement(&statement.lines, &payments, window, grace_ms);
    // A payout that may be a second credit is remembered for the returns of later days.
    store.remember_extra_payouts(&extra_payouts(provider, &items)).await?;
    // Only items the match found to be genuine, unambiguous returns write anything.
    for item in items.iter_mut().filter(|item| item.kind == ItemKind::Returned) {
        apply_return(store, provider, item).await?;
    }
    // After the returns: a carried payment whose return the store refused (its reference
    // remembered for another payment) is still owed a booking, and stays carried.
    let carried = matching::carry_over(&payments, &items, window);
    store.remember_carried(provider, &day.to_string(), &carried).await?;
    store.remember_first_bookings(provider, &carried.first_booked).await?;
    Ok(Reconciliation {
        provider: provider.to_string(),
        day,
        items,
    })
}

/// The payout lines among `items` that may be second credits of their payments (see
/// [`Item::extra_payout`]).
fn extra_payouts(provider: &str, items: &[Item]) -> Vec<ExtraPayout> {
    items
        .iter()
        .filter(|item| item.extra_payout)
        .filter_map(|item| {
            Some(ExtraPayout {
                provider: provider.to_string(),
                entry_ref: item.entry_ref.clone()?,
                payment_id: item.payment_id.clone(),
                amount: item.statement_amount.and_then(|amount| i64::try_from(amount).ok())?,
                booked_on: item.booked_on?.to_string(),
            })
        })
        .collect()
}

/// Applies one matched return and says in the item's note what happened.
async fn apply_return(store: &Store, provider: &str, item: &mut Item) -> Result<(), StoreError> {
    let code = item.return_reason.clone().unwrap_or_default();
    let booked_on = item.booked_on.map(|day| day.to_string()).unwrap_or_default();
    let returned = ReturnToApply {
        provider: provider.to_string(),
        entry_ref: item.entry_ref.clone().unwrap_or_default(),
        payment_id: item.payment_id.clone(),
        amount: item.statement_amount.and_then(|a| i64::try_from(a).ok()).unwrap_or_default(),
        reason: format!(
            "the provider returned the payout on {booked_on} ({code}: {}); the money is back in the disbursement account",
            return_reason_text(&code)
        ),
        reason_code: code,
        booked_on,
    };
    match store.apply_return(&returned).await? {
        ReturnOutcome::Applied { seq } => {
            item.note = format!("returned result written for upstream (seq {seq})");
        }
        ReturnOutcome::AlreadyApplied => {
            item.note = "applied by an earlier run; nothing written".to_string();
        }
        ReturnOutcome::ReferenceTaken { payment_id } => {
            item.kind = ItemKind::ReturnNeedsReview;
            item.note = format!(
                "statement line {} is remembered for payment {payment_id}: the provider gave one reference to two lines; nothing written",
                item.entry_ref.as_deref().unwrap_or_default()
            );
        }
        // A person recorded the refund before the statement that books it was reconciled:
        // this line is that refund, not a second one (and from now on the only one).
        ReturnOutcome::RecordedRefundBooked => {
            item.note = "books the refund a person recorded (gateway carried forget --as refunded); nothing written"
                .to_string();
        }
        ReturnOutcome::ReturnedEarlier { entry_ref } => {
            item.kind = ItemKind::DuplicateOnStatement;
            item.note = format!("the payment was already returned by statement line {entry_ref}");
        }
        ReturnOutcome::NotApplicable => {
            item.kind = ItemKind::StatusMismatch;
            item.note = "the payment changed while it was reconciled; nothing written".to_string();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_has_its_format() {
        assert_eq!(
            StatementFormat::for_channel(Channel::BankTransfer),
            StatementFormat::Camt053
        );
        assert_eq!(
            StatementFormat::for_channel(Channel::VnpostAccount),
            StatementFormat::VnpostCsv
        );
        assert_eq!(
            StatementFormat::for_channel(Channel::MobileMoney),
            StatementFormat::WalletCsv
        );
    }

    #[test]
    fn a_day_is_cut_at_vietnam_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        let (from, to) = day_window(day);
        // 2026-12-03 00:00 in Vietnam is 2026-12-02 17:00 UTC.
        let expected = chrono::DateTime::parse_from_rfc3339("2026-12-02T17:00:00Z")
            .map(|at| at.timestamp_millis())
            .unwrap_or_default();
        assert_eq!(from, expected);
        assert_eq!(to - from, 86_400_000);
    }

    /// The day after the calendar's last was computed with `+ 1 day`, which panics; a VNPost
    /// line dated in year 262143 made it the statement's day.
    #[test]
    fn the_calendars_last_day_has_a_window_without_a_panic() {
        let (from, to) = day_window(NaiveDate::MAX);
        assert!(from < to);
        assert_eq!(to, i64::MAX);
    }

    #[test]
    fn the_day_comes_from_the_statement_and_date_may_only_confirm_it() {
        let on = |day: u32| NaiveDate::from_ymd_opt(2026, 12, day).unwrap_or_default();
        let own = ParsedStatement {
            date: Some(on(3)),
            several_days: None,
            lines: Vec::new(),
        };
        assert_eq!(day_to_reconcile(&own, None).ok(), Some(on(3)));
        assert_eq!(day_to_reconcile(&own, Some(on(3))).ok(), Some(on(3)));
        let mismatch = day_to_reconcile(&own, Some(on(4)));
        assert!(
            matches!(&mismatch, Err(error) if error.is_bad_statement()),
            "{mismatch:?}"
        );
        // A statement of several days is reconciled a day of it at a time, named by --date.
        let weekend = ParsedStatement {
            several_days: Some((on(5), on(7))),
            ..ParsedStatement::default()
        };
        assert!(matches!(
            day_to_reconcile(&weekend, None),
            Err(ReconcileError::SeveralDays { .. })
        ));
        assert_eq!(day_to_reconcile(&weekend, Some(on(6))).ok(), Some(on(6)));
        assert!(matches!(
            day_to_reconcile(&weekend, Some(on(8))),
            Err(ReconcileError::SeveralDays { .. })
        ));
        let undated = ParsedStatement::default();
        assert!(matches!(day_to_reconcile(&undated, None), Err(ReconcileError::NoDay)));
        assert_eq!(day_to_reconcile(&undated, Some(on(5))).ok(), Some(on(5)));
    }

    #[test]
    fn the_exit_code_says_whether_the_books_balance() {
        let item = |kind| Item {
            kind,
            entry_ref: None,
            payment_id: "pay_1".into(),
            order_id: None,
            gateway_amount: None,
            statement_amount: None,
            gateway_state: None,
            return_reason: None,
            booked_on: None,
            note: String::new(),
            extra_payout: false,
            payout: false,
        };
        let mut reconciliation = Reconciliation {
            provider: "bank_transfer".into(),
            day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
            items: vec![item(ItemKind::Matched), item(ItemKind::Returned)],
        };
        assert_eq!(reconciliation.exit_code(), EXIT_BALANCED);
        reconciliation.items.push(item(ItemKind::MissingAtProvider));
        assert_eq!(reconciliation.exit_code(), EXIT_NOT_BALANCED);
        assert_eq!(reconciliation.count(ItemKind::Matched), 1);
    }
}
