//! `gateway carried list|forget`: the payments reconciliation carries from day to day.
//!
//! A payment sent late in the day and not on that day's statement (or not final yet) is carried
//! over: every later day's `gateway reconcile` expects it and lists it `missing_at_provider`
//! until a statement books it or it ends without a credit. One the provider will never book —
//! a person settled it with them — would keep every later day from balancing; `forget` stops
//! expecting it, with a note in the payment's event log. How it was settled matters: credited
//! after all, it stays succeeded; refunded uncredited, it is returned (a final `returned`
//! result, so that upstream can pay the beneficiary again).

use std::process::ExitCode;

use clap::Subcommand;
use gateway_adapter::money::format_dong;

use crate::config::Settings;
use crate::reconcile::statement::vietnam_date;
use crate::store::{CarriedPayment, ForgetOutcome, Settlement, Store};

#[derive(Debug, Subcommand)]
pub enum CarriedCommand {
    /// List the carried payments, oldest first: provider, payment, order, amount, since.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Stop expecting one on the statements of the days after, once settled with the provider.
    Forget {
        /// The gateway's payment id (as `list` shows it).
        payment_id: String,
        /// The provider whose statements expect it.
        #[arg(long)]
        provider: String,
        /// What the provider confirmed: `credited` (the beneficiary has the money; booked on a
        /// statement never reconciled, or under another reference) or `refunded` (never
        /// credited, the money is back on the disbursement account: upstream gets a final
        /// `returned` result and can pay again).
        #[arg(long = "as", value_enum)]
        settled: Settled,
        /// How it was settled (ticket, call); kept in the payment's event log with the operator
        /// (`GATEWAY_OPERATOR`, else the login name). No personal data.
        #[arg(long)]
        note: String,
        /// With `--as refunded`: the day the money came back (`YYYY-MM-DD`, Vietnam time), which
        /// the `returned` result names and after which a payout of it on a statement is
        /// flagged. Defaults to today; never after it, nor before the day it was sent.
        #[arg(long, value_name = "YYYY-MM-DD")]
        refunded_on: Option<chrono::NaiveDate>,
    },
}

/// How a carried payment was settled, as the operator says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Settled {
    Credited,
    Refunded,
}

/// The exit code of a refused command: a usage error, as clap's own are.
const EXIT_REFUSED: u8 = 2;

pub async fn run(settings: Settings, command: CarriedCommand) -> anyhow::Result<ExitCode> {
    let today = vietnam_date(chrono::Utc::now());
    if let CarriedCommand::Forget {
        settled,
        note,
        refunded_on,
        ..
    } = &command
    {
        if let Err(refusal) = check_forget(*settled, note, *refunded_on, today) {
            eprintln!("error: {refusal}; nothing was written");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    }
    let store = Store::connect_existing(&settings.database).await?;
    let provider = match &command {
        CarriedCommand::List { provider } => provider.as_deref(),
        CarriedCommand::Forget { provider, .. } => Some(provider.as_str()),
    };
    if let Some(key) = provider {
        if settings.providers.get(key).is_none() && store.channel_paid_by(key).await?.is_none() {
            eprintln!("error: {}", super::reconcile::no_such_provider(&settings, key));
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    }
    match command {
        CarriedCommand::List { provider } => {
            let carried = store.carried(provider.as_deref()).await?;
            print!("{}", table(&carried));
            println!("{} carried payments.", carried.len());
            Ok(ExitCode::SUCCESS)
        }
        CarriedCommand::Forget {
            payment_id,
            provider,
            settled,
            note,
            refunded_on,
        } => {
            let settlement = match settled {
                Settled::Credited => Settlement::Credited,
                Settled::Refunded => Settlement::Refunded {
                    on: refunded_on.unwrap_or(today).to_string(),
                },
            };
            let operator = super::orders::operator();
            let refusal = match store
                .forget_carried(&provider, &payment_id, &settlement, &operator, &note)
                .await?
            {
                ForgetOutcome::Forgotten => {
                    println!(
                        "{payment_id} is no longer expected on {provider}'s statements and stays succeeded; the note is \
                         in its event log."
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                ForgetOutcome::Refunded { seq } => {
                    println!(
                        "{payment_id} is no longer expected on {provider}'s statements and is returned: its final \
                         `returned` result (seq {seq}) is in the outbox, and the running gateway publishes it; the note \
                         is in its event log."
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                ForgetOutcome::NotCarried => format!(
                    "{provider:?} carries no payment {payment_id:?}; `gateway carried list` shows the ones it does"
                ),
                ForgetOutcome::NotSucceeded(state) => format!(
                    "{payment_id} is {state}, not succeeded: one not final yet is settled by its own flow, and one \
                     that failed leaves the list at the next reconciliation; forget only a succeeded payment"
                ),
                ForgetOutcome::ReturnedEarlier { entry_ref } => {
                    println!(
                        "{payment_id} is no longer expected on {provider}'s statements; a statement had returned it \
                         already (entry {}), so upstream has its `returned` result; the note is in its event log.",
                        crate::terminal::shown(&entry_ref)
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                ForgetOutcome::ReturnedNotCredited { entry_ref } => format!(
                    "a statement returned {payment_id} (entry {}): the money came back, so the beneficiary was not \
                     credited by it, and upstream has its `returned` result; if the provider says it was credited \
                     after all, that is a new payout to look into with them",
                    crate::terminal::shown(&entry_ref)
                ),
                ForgetOutcome::RefundBeforeSent { sent_on } => format!(
                    "{payment_id} was sent on {sent_on}: it cannot have been refunded before; give the day the money \
                     came back with --refunded-on"
                ),
                ForgetOutcome::PaidMoreThanOnce { on } => format!(
                    "a statement booked a second payout of {payment_id} (on {}): with one payout refunded the \
                     beneficiary may still hold the other; ask the provider, and forget it `--as credited` if so",
                    crate::terminal::shown(&on)
                ),
                ForgetOutcome::ChangedMeanwhile => {
                    format!(
                        "{payment_id} changed while it was being forgotten; run `gateway carried list` and try again"
                    )
                }
            };
            eprintln!("error: {refusal}; nothing was written");
            Ok(ExitCode::from(EXIT_REFUSED))
        }
    }
}

/// What `forget` refuses before it reads the store: a note that says nothing, a refund day with
/// a payment settled as credited, or a refund day after `today`.
fn check_forget(
    settled: Settled,
    note: &str,
    refunded_on: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
) -> Result<(), String> {
    if note.trim().is_empty() {
        return Err("--note must say how the payment was settled with the provider".to_string());
    }
    match (settled, refunded_on) {
        (Settled::Credited, Some(_)) => {
            Err("--refunded-on is the day the money came back, and goes with --as refunded only".to_string())
        }
        (Settled::Refunded, Some(day)) if day > today => Err(format!(
            "--refunded-on {day} is after today ({today}, Vietnam time): give the day the money came back"
        )),
        _ => Ok(()),
    }
}

fn table(carried: &[CarriedPayment]) -> String {
    let mut out = format!(
        "{:<16}  {:<32}  {:<28}  {:>16}  {:<10}  {}\n",
        "provider", "payment id", "order id", "amount", "since", "state"
    );
    for payment in carried {
        out.push_str(&format!(
            "{:<16}  {:<32}  {:<28}  {:>16}  {:<10}  {}\n",
            payment.provider,
            payment.payment_id,
            payment.order_id.escape_debug(),
            format!("{} ₫", format_dong(u64::try_from(payment.amount).unwrap_or_default())),
            payment.since,
            payment.state
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> chrono::NaiveDate {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn a_forget_says_how_and_a_refund_day_is_a_past_day_of_a_refund() {
        let today = day("2026-12-07");
        assert!(check_forget(Settled::Credited, "ticket 42", None, today).is_ok());
        assert!(check_forget(Settled::Refunded, "ticket 43", Some(day("2026-12-05")), today).is_ok());
        assert!(check_forget(Settled::Refunded, "ticket 43", Some(today), today).is_ok());
        let blank = check_forget(Settled::Credited, "  ", None, today).expect_err("refused");
        assert!(blank.contains("--note"), "{blank}");
        let credited =
            check_forget(Settled::Credited, "ticket 42", Some(day("2026-12-05")), today).expect_err("refused");
        assert!(credited.contains("--as refunded only"), "{credited}");
        let future = check_forget(Settled::Refunded, "ticket 43", Some(day("2026-12-08")), today).expect_err("refused");
        assert!(future.contains("after today (2026-12-07"), "{future}");
    }
}
