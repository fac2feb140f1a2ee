//! `gateway orders show|list|resolve`: one order's payment, event log and results; payments
//! in one state (the `needs_review` queue); an operator settling a payment in review.
//!
//! Only printing and exit codes live here; the work is `Store::list_payments` and
//! `review::resolve`, which tests call directly.

use std::process::ExitCode;
use std::str::FromStr;

use gateway_adapter::money::format_dong;
use gateway_adapter::Channel;

use super::OrdersCommand;
use crate::config::Settings;
use crate::payment::PaymentState;
use crate::review::{Refusal, Resolution, ResolveOutcome};
use crate::store::{now_ms, PaymentFilter, PaymentListing, Store};
use crate::terminal::shown;

/// Runs one `gateway orders …` command.
pub async fn run(settings: Settings, command: OrdersCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrdersCommand::Show { order_id } => show(settings, &order_id).await,
        OrdersCommand::List {
            state,
            channel,
            batch_id,
            limit,
        } => {
            let filter = PaymentFilter {
                state,
                channel,
                batch_id,
                limit,
            };
            list(settings, &filter).await
        }
        OrdersCommand::Resolve {
            order_id,
            verdict,
            note,
            provider_ref,
            no_record_confirmed,
            without_inquiry,
        } => {
            let resolution = Resolution {
                order_id,
                verdict,
                note,
                provider_ref,
                operator: operator(),
                no_record_confirmed,
                without_inquiry,
            };
            resolve(settings, &resolution).await
        }
    }
}

/// `--state`: a payment state by its name.
pub(super) fn parse_state(value: &str) -> Result<PaymentState, String> {
    PaymentState::from_str(value).map_err(|_| {
        let names: Vec<&str> = PaymentState::ALL.iter().map(|state| state.as_str()).collect();
        format!("`{value}` is not a payment state; use one of {}", names.join(", "))
    })
}

/// The exit code of `list` with a channel, provider or batch that nothing names: a usage error,
/// as clap's own are.
const EXIT_UNKNOWN: u8 = 2;

/// Who is resolving: `GATEWAY_OPERATOR`, else the login name, else `unknown`.
pub(super) fn operator() -> String {
    ["GATEWAY_OPERATOR", "USER"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|value| value.trim().to_string())
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

async fn list(settings: Settings, filter: &PaymentFilter) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
    // A mistyped channel, provider or batch would match nothing and read as "none waiting".
    if let Some(key) = &filter.channel {
        let known = Channel::parse(key).is_some()
            || settings.providers.get(key).is_some()
            || store.channel_paid_by(key).await?.is_some();
        if !known {
            eprintln!(
                "error: {} is no channel ({}), and {}",
                shown(&format!("{key:?}")),
                Channel::ALL.map(|channel| channel.as_str()).join(", "),
                super::reconcile::no_such_provider(&settings, key)
            );
            return Ok(ExitCode::from(EXIT_UNKNOWN));
        }
    }
    if let Some(batch_id) = &filter.batch_id {
        if !store.batch_named(batch_id).await? {
            eprintln!(
                "error: no order, manifest or rejection names batch {}",
                shown(&format!("{batch_id:?}"))
            );
            return Ok(ExitCode::from(EXIT_UNKNOWN));
        }
    }
    let listing = store.list_payments(filter).await?;
    print!("{}", listing_table(&listing, filter.state, now_ms()));
    Ok(ExitCode::SUCCESS)
}

/// The listing as a table with a total line; no names, accounts or phone numbers.
fn listing_table(listing: &PaymentListing, state: PaymentState, now: i64) -> String {
    let header = [
        "ORDER",
        "PAYMENT",
        "CHANNEL",
        "AMOUNT ₫",
        "STATE",
        "REASON CODE",
        "AGE",
        "REASON",
    ];
    let rows: Vec<[String; 8]> = listing
        .payments
        .iter()
        .map(|payment| {
            let channel = if payment.channel == payment.provider {
                payment.channel.clone()
            } else {
                format!("{}/{}", payment.channel, payment.provider)
            };
            [
                payment.order_id.clone(),
                payment.payment_id.clone(),
                channel,
                format_dong(payment.amount.max(0) as u64),
                payment.state.to_string(),
                payment.reason_code.clone().unwrap_or_else(|| "-".to_string()),
                age(now - payment.entered_state_at),
                shown(&shorten(payment.reason.as_deref().unwrap_or(""), 60)).into_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut out = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            match index {
                // Amounts and ages line up on the right; the reason is last and not padded.
                3 | 6 => out.push_str(&format!("{pad}{cell}  ")),
                7 => out.push_str(cell),
                _ => out.push_str(&format!("{cell}{pad}  ")),
            }
        }
        format!("{}\n", out.trim_end())
    };
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&line(header));
        for row in &rows {
            out.push_str(&line(row.each_ref().map(String::as_str)));
        }
    }
    let shown = listing.payments.len() as i64;
    let more = if shown < listing.total_count {
        format!(" (showing the oldest {shown}; raise --limit to see more)")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{} payment{} in {state}, {} ₫ in all{more}\n",
        listing.total_count,
        if listing.total_count == 1 { "" } else { "s" },
        format_dong(listing.total_amount.max(0) as u64)
    ));
    out
}

/// A duration as an operator reads it: `3d 4h`, `5h 12m`, `7m`, `<1m`.
fn age(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (days, hours, minutes) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "<1m".to_string(),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// At most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

async fn resolve(settings: Settings, resolution: &Resolution) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
    let adapters = crate::providers::build_adapters(&settings.providers, settings.dispatcher.provider_concurrency)?;
    match crate::review::resolve(&store, &adapters, resolution).await? {
        ResolveOutcome::Resolved(resolved) => {
            let payment = &resolved.payment;
            println!(
                "Resolved order {} (payment {}): needs_review ({}) -> {}.",
                payment.order_id,
                payment.payment_id,
                resolved.previous_reason_code.as_deref().unwrap_or("-"),
                payment.state
            );
            println!("provider's answer  {}", shown(&resolved.provider_answer));
            println!(
                "reason             {}: {}",
                payment.reason_code.as_deref().unwrap_or(""),
                shown(payment.reason.as_deref().unwrap_or(""))
            );
            if let Some(reference) = &payment.provider_ref {
                println!("provider ref       {}", shown(reference));
            }
            println!("event log          {}", shown(&resolved.detail));
            println!(
                "The final result ({}, seq {}) is in the outbox: the running gateway publishes the result to {} \
                 (or the next one to start).",
                payment.state, payment.seq, settings.amqp.results_exchange
            );
            Ok(ExitCode::SUCCESS)
        }
        ResolveOutcome::Refused(refusal) => {
            // The refusal quotes the provider's answer and reference.
            eprintln!("Refused: {}", shown(&refusal.to_string()));
            Ok(match refusal {
                Refusal::NoSuchOrder(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            })
        }
    }
}

async fn show(settings: Settings, order_id: &str) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
    let Some(view) = store.order_view(order_id).await? else {
        // Refused as invalid on arrival: no payment, but the store remembers the refusal.
        if let Some((rejected_at, batch_id)) = store.rejected_order(order_id).await? {
            println!(
                "order       {order_id}\nstate       refused as invalid on arrival, {}{}\n\n\
                 No payment was made. Its final `rejected` result, with the reason, went to {}; its message \
                 to the dead-letter queue (gateway dlq list). A corrected order under the same id is paid.",
                time(rejected_at),
                batch_id.map(|batch| format!(" (batch {batch})")).unwrap_or_default(),
                settings.amqp.results_exchange
            );
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("No order {order_id} in the store.");
        return Ok(ExitCode::from(2));
    };
    let payment = &view.payment;
    // The provider's reference, reason and words in the event log are the provider's text.
    println!("order       {}", shown(&payment.order_id));
    println!("payment     {}", payment.payment_id);
    println!("channel     {} ({})", payment.channel, payment.provider);
    println!("amount      {} ₫", format_dong(payment.amount.max(0) as u64));
    println!("state       {}", payment.state);
    if let Some(code) = &payment.reason_code {
        println!("reason      {code}: {}", shown(payment.reason.as_deref().unwrap_or("")));
    }
    println!("attempts    {}   inquiries {}", payment.attempts, payment.inquiries);
    if let Some(reference) = &payment.provider_ref {
        println!("provider    {}", shown(reference));
    }
    println!("\nevents:");
    for event in &view.events {
        println!(
            "  {}  {:>15} -> {:<15} {} {}",
            time(event.occurred_at),
            event.from_state.as_deref().unwrap_or("-"),
            event.to_state.as_str(),
            event.reason_code.as_deref().unwrap_or(""),
            shown(event.detail.as_deref().unwrap_or(""))
        );
    }
    println!("\nresults:");
    for result in &view.results {
        println!(
            "  seq {} {:<13} final={} {}",
            result.seq,
            result.status.as_str(),
            result.is_final,
            result.reason_code.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PaymentSummary;

    #[test]
    fn ages_read_in_days_hours_and_minutes() {
        let minute = 60_000;
        assert_eq!(age(30_000), "<1m");
        assert_eq!(age(7 * minute), "7m");
        assert_eq!(age((5 * 60 + 12) * minute), "5h 12m");
        assert_eq!(age(((3 * 24 + 4) * 60 + 59) * minute), "3d 4h");
        assert_eq!(age(-5), "<1m");
    }

    #[test]
    fn long_reasons_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("đồng đồng", 20), "đồng đồng");
        assert_eq!(shorten("đồng đồng đồng", 6), "đồng…");
    }

    #[test]
    fn the_table_has_one_line_per_payment_and_a_total() {
        let payment = PaymentSummary {
            order_id: "TB-1".into(),
            payment_id: "pay_1".into(),
            channel: "mobile_money".into(),
            provider: "viettel_money".into(),
            amount: 2_789_000,
            state: PaymentState::NeedsReview,
            reason_code: Some("unknown_outcome".into()),
            reason: Some("the outcome is still unknown".into()),
            entered_state_at: 0,
            submitted_at: Some(0),
        };
        let listing = PaymentListing {
            payments: vec![payment],
            total_count: 3,
            total_amount: 8_367_000,
        };
        let table = listing_table(&listing, PaymentState::NeedsReview, (26 * 60 + 5) * 60_000);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[1].contains("mobile_money/viettel_money") && lines[1].contains("2.789.000"));
        assert!(lines[1].contains("1d 2h"), "{table}");
        assert_eq!(
            lines[2],
            "3 payments in needs_review, 8.367.000 ₫ in all (showing the oldest 1; raise --limit to see more)"
        );
        // The reason is the provider's words: an escape sequence in it rewrote the terminal.
        let mut listing = listing;
        listing.payments[0].reason = Some("declined\u{1b}[2J".into());
        let table = listing_table(&listing, PaymentState::NeedsReview, 0);
        assert!(
            !table.contains('\u{1b}') && table.contains("declined\\u{1b}[2J"),
            "{table:?}"
        );
    }
}
