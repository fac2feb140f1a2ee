//! `gateway carried list|forget`: the payments reconciliation carries from day to day.
//!
//! A payment sent late in the day and not on that day's statement (or not final yet) is carried
//! over: every later day's `gateway reconcile` expects it and lists it `missing_at_provider`
//! until a statement books it or it ends without a credit. One the provider will never book —
//! a person settled it with them — would keep every later day from balancing; `forget` stops
//! expecting it, with a note in the payment's event log.

use std::process::ExitCode;

use clap::Subcommand;
use gateway_adapter::money::format_dong;

use crate::config::Settings;
use crate::store::{CarriedPayment, Store};

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
        /// How it was settled (ticket, call); kept in the payment's event log. No personal data.
        #[arg(long)]
        note: String,
    },
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
            note,
        } => {
            if note.trim().is_empty() {
                eprintln!("error: --note must say how the payment was settled with the provider");
                return Ok(ExitCode::from(2));
            }
            if store.forget_carried(&provider, &payment_id, &note).await? {
                println!(
                    "{payment_id} is no longer expected on {provider}'s statements; the note is in its event log."
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: {provider:?} carries no payment {payment_id:?}; `gateway carried list` shows the ones it does"
                );
                Ok(ExitCode::from(2))
            }
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
