//! The emulated Post Office's end-of-day reconciliation file ("file đối soát"): CSV separated
//! by semicolons, Vietnamese column names, dates as `dd/MM/yyyy HH:mm:ss` in Vietnam time.
//!
//! ```text
//! STT;MA_GIAO_DICH;MA_YEU_CAU;MA_DON_HANG;LOAI_GIAO_DICH;SO_TIEN;NGAY_GIAO_DICH;MA_LY_DO;GHI_CHU
//! 1;VNP-…;pay_…;TB-2026-12-000001;CHI_TRA;2789000;03/12/2026 09:30:00;;
//! 2;RTN-VNP-…;pay_…;TB-2026-12-000001;HOAN_TRA;2789000;05/12/2026 10:00:00;AC04;Hoan tra VNP-… ngay 03/12/2026
//! ```
//!
//! `MA_YEU_CAU` is the request id the gateway sent (its payment id); `CHI_TRA` is a payout,
//! `HOAN_TRA` a payout that came back, with its reason in `MA_LY_DO`.

use sandbox_kit::statement::csv::csv_line;
use sandbox_kit::statement::{vietnam, EntryKind, Statement, StatementWriter};

/// The header line.
pub const HEADER: [&str; 9] = [
    "STT",
    "MA_GIAO_DICH",
    "MA_YEU_CAU",
    "MA_DON_HANG",
    "LOAI_GIAO_DICH",
    "SO_TIEN",
    "NGAY_GIAO_DICH",
    "MA_LY_DO",
    "GHI_CHU",
];

/// Writes the Post Office's CSV statements.
#[derive(Clone, Copy, Debug, Default)]
pub struct VnpostStatementWriter;

impl StatementWriter for VnpostStatementWriter {
    fn media_type(&self) -> &'static str {
        "text/csv; charset=utf-8"
    }

    fn file_name(&self, statement: &Statement) -> String {
        format!("{}-doisoat-{}.csv", statement.provider, statement.date.format("%Y%m%d"))
    }

    fn write(&self, statement: &Statement) -> Vec<u8> {
        let local = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&vietnam()).format("%d/%m/%Y %H:%M:%S");
        let mut out = csv_line(&HEADER, ';');
        out.push_str("\r\n");
        for (index, entry) in statement.entries.iter().enumerate() {
            let (kind, reason, note) = match &entry.kind {
                EntryKind::Payout => ("CHI_TRA", String::new(), String::new()),
                EntryKind::Return {
                    reason_code,
                    original_ref,
                    original_booked_at,
                } => (
                    "HOAN_TRA",
                    reason_code.clone(),
                    format!(
                        "Hoan tra {original_ref} ngay {}",
                        original_booked_at.with_timezone(&vietnam()).format("%d/%m/%Y")
                    ),
                ),
            };
            let number = (index + 1).to_string();
            let amount = entry.amount.to_string();
            let booked = local(entry.booked_at).to_string();
            out.push_str(&csv_line(
                &[
                    &number,
                    &entry.entry_ref,
                    &entry.client_reference,
                    &entry.order_ref,
                    kind,
                    &amount,
                    &booked,
                    &reason,
                    &note,
                ],
                ';',
            ));
            out.push_str("\r\n");
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
    fn payouts_and_returns_are_lines_in_the_post_offices_layout() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        let at = vietnam_instant(date, NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default());
        let payout = StatementEntry {
            entry_ref: "VNP-1".into(),
            client_reference: "pay_1".into(),
            order_ref: "TB-1".into(),
            amount: 2_789_000,
            booked_at: at,
            kind: EntryKind::Payout,
        };
        let returned = StatementEntry {
            entry_ref: "RTN-VNP-1".into(),
            kind: EntryKind::Return {
                reason_code: "AC04".into(),
                original_ref: "VNP-1".into(),
                original_booked_at: at,
            },
            ..payout.clone()
        };
        let statement = Statement {
            provider: "vnpost_account".into(),
            date,
            created_at: at,
            entries: vec![payout, returned],
        };
        let text = String::from_utf8(VnpostStatementWriter.write(&statement)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.join(";"));
        assert_eq!(lines[1], "1;VNP-1;pay_1;TB-1;CHI_TRA;2789000;03/12/2026 09:30:00;;");
        assert_eq!(
            lines[2],
            "2;RTN-VNP-1;pay_1;TB-1;HOAN_TRA;2789000;03/12/2026 09:30:00;AC04;Hoan tra VNP-1 ngay 03/12/2026"
        );
    }
}
