//! The emulated wallet provider's daily reconciliation file, MoMo style: CSV separated by
//! commas, camelCase column names, times as Unix epoch milliseconds (`responseTime`).
//!
//! ```text
//! transId,partnerCode,requestId,orderId,transType,amount,resultCode,responseTime,refundReason,originalTransId
//! 2611…,GATEWAY_VTM,pay_…,TB-2026-12-000001,disburse,500000,0,1764729000000,,
//! RTN-2611…,GATEWAY_VTM,pay_…,TB-2026-12-000001,refund,500000,0,1764901200000,AC04,2611…
//! ```
//!
//! `requestId` is the request id the gateway sent (its payment id); `disburse` is a payout,
//! `refund` a payout that came back to the partner, with its reason in `refundReason`.

use sandbox_kit::statement::csv::csv_line;
use sandbox_kit::statement::{EntryKind, Statement, StatementWriter};

/// The header line.
pub const HEADER: [&str; 10] = [
    "transId",
    "partnerCode",
    "requestId",
    "orderId",
    "transType",
    "amount",
    "resultCode",
    "responseTime",
    "refundReason",
    "originalTransId",
];

/// Writes one wallet provider's CSV statements for one partner code.
#[derive(Clone, Debug)]
pub struct WalletStatementWriter {
    /// The partner code the gateway pays under, repeated on every line as the provider does.
    pub partner_code: String,
}

impl StatementWriter for WalletStatementWriter {
    fn media_type(&self) -> &'static str {
        "text/csv; charset=utf-8"
    }

    fn file_name(&self, statement: &Statement) -> String {
        format!(
            "{}-reconcile-{}.csv",
            statement.provider,
            statement.date.format("%Y%m%d")
        )
    }

    fn write(&self, statement: &Statement) -> Vec<u8> {
        let mut out = csv_line(&HEADER, ',');
        out.push('\n');
        for entry in &statement.entries {
            let (kind, reason, original) = match &entry.kind {
                EntryKind::Payout => ("disburse", "", ""),
                EntryKind::Return {
                    reason_code,
                    original_ref,
                    ..
                } => ("refund", reason_code.as_str(), original_ref.as_str()),
            };
            let amount = entry.amount.to_string();
            let time = entry.booked_at.timestamp_millis().to_string();
            out.push_str(&csv_line(
                &[
                    &entry.entry_ref,
                    &self.partner_code,
                    &entry.client_reference,
                    &entry.order_ref,
                    kind,
                    &amount,
                    "0",
                    &time,
                    reason,
                    original,
                ],
                ',',
            ));
            out.push('\n');
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveTime};
    use sandbox_kit::statement::{vietnam_instant, StatementEntry};

    use super::*;

    #[test]
    fn payouts_and_refunds_are_lines_in_the_wallet_layout() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        let at = vietnam_instant(date, NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default());
        let payout = StatementEntry {
            entry_ref: "2611".into(),
            client_reference: "pay_1".into(),
            order_ref: "TB-1".into(),
            amount: 500_000,
            booked_at: at,
            kind: EntryKind::Payout,
        };
        let returned = StatementEntry {
            entry_ref: "RTN-2611".into(),
            kind: EntryKind::Return {
                reason_code: "AC04".into(),
                original_ref: "2611".into(),
                original_booked_at: at,
            },
            ..payout.clone()
        };
        let statement = Statement {
            provider: "viettel_money".into(),
            date,
            created_at: at,
            entries: vec![payout, returned],
        };
        let writer = WalletStatementWriter {
            partner_code: "GW".into(),
        };
        let text = String::from_utf8(writer.write(&statement)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let millis = at.timestamp_millis();
        assert_eq!(lines[0], HEADER.join(","));
        assert_eq!(lines[1], format!("2611,GW,pay_1,TB-1,disburse,500000,0,{millis},,"));
        assert_eq!(
            lines[2],
            format!("RTN-2611,GW,pay_1,TB-1,refund,500000,0,{millis},AC04,2611")
        );
    }
}
