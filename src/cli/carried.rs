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
        /// How it was settled (ticket, call); kept in the payment's event log. No personal data.
        #[arg(long)]
        note: String,
    },
}

/// How a carried payment was settled, as the operator says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Settled {
    Credited,
    Refunded,
}

pub async fn run(settings: Settings, command: CarriedCommand) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
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
        } => {
            if note.trim().is_empty() {
                eprintln!("error: --note must say how the payment was settled with the provider");
                return Ok(ExitCode::from(2));
            }
            let settlement = match settled {
                Settled::Credited => Settlement::Credited,
                Settled::Refunded => Settlement::Refunded {
                    on: vietnam_date(chrono::Utc::now()).to_string(),
                },
            };
            let refusal = match store.forget_carried(&provider, &payment_id, &settlement, &note).await? {
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
                ForgetOutcome::ChangedMeanwhile => {
                    format!(
                        "{payment_id} changed while it was being forgotten; run `gateway carried list` and try again"
                    )
                }
            };
            eprintln!("error: {refusal}; nothing was written");
            Ok(ExitCode::from(2))
        }
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
