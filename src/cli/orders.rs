//! `gateway orders show <order_id>`: one order's payment, event log and results, masked.

use std::process::ExitCode;

use gateway_adapter::money::format_dong;

use crate::config::Settings;
use crate::store::Store;

pub async fn show(settings: Settings, order_id: &str) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&settings.database).await?;
    let Some(view) = store.order_view(order_id).await? else {
        eprintln!("No order {order_id} in the store.");
        return Ok(ExitCode::from(2));
    };
    let payment = &view.payment;
    println!("order       {}", payment.order_id);
    println!("payment     {}", payment.payment_id);
    println!("channel     {} ({})", payment.channel, payment.provider);
    println!("amount      {} ₫", format_dong(payment.amount.max(0) as u64));
    println!("state       {}", payment.state);
    if let Some(code) = &payment.reason_code {
        println!("reason      {code}: {}", payment.reason.as_deref().unwrap_or(""));
    }
    println!("attempts    {}   inquiries {}", payment.attempts, payment.inquiries);
    if let Some(reference) = &payment.provider_ref {
        println!("provider    {reference}");
    }
    println!("\nevents:");
    for event in &view.events {
        println!(
            "  {}  {:>15} -> {:<15} {} {}",
            time(event.occurred_at),
            event.from_state.as_deref().unwrap_or("-"),
            event.to_state.as_str(),
            event.reason_code.as_deref().unwrap_or(""),
            event.detail.as_deref().unwrap_or("")
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
