//! The payout-list CSV an upstream system (or the demo) hands over, turned into order JSON.
//!
//! The list is taken as it is: this is the upstream side, so nothing is validated here —
//! the gateway validates every order and rejects the bad ones with a reason.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One line of the payout list. Empty cells are left out of the order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PayoutRow {
    pub order_id: String,
    pub batch_id: String,
    pub program: String,
    pub period: String,
    pub payment_type: String,
    pub beneficiary_id: String,
    pub full_name: String,
    pub commune_code: String,
    /// Whole đồng, as written in the list (a bad value is the gateway's to reject).
    pub amount: String,
    pub channel: String,
    #[serde(default)]
    pub bank_bin: String,
    #[serde(default)]
    pub account_number: String,
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub wallet_provider: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub memo: String,
}

impl PayoutRow {
    /// The order message (contract v1) for this line.
    pub fn to_order_json(&self, created_at: &str) -> Value {
        let mut destination = Map::new();
        let mut put = |key: &str, value: &str| {
            if !value.is_empty() {
                destination.insert(key.to_string(), Value::String(value.to_string()));
            }
        };
        // Every destination cell that is filled goes into the order, whatever the channel: a
        // bank line with a phone number in it is the gateway's to refuse (`unknown_field`),
        // not this side's to tidy up by quietly paying the bank account.
        put("bank_bin", &self.bank_bin);
        put("account_number", &self.account_number);
        put("account_name", &self.account_name);
        put("wallet_provider", &self.wallet_provider);
        put("phone_number", &self.phone_number);
        let mut order = json!({
            "order_id": self.order_id,
            "batch_id": self.batch_id,
            "program": self.program,
            "period": self.period,
            "payment_type": self.payment_type,
            "beneficiary": {
                "id": self.beneficiary_id,
                "full_name": self.full_name,
                "commune_code": self.commune_code,
            },
            "amount": self.amount,
            "currency": "VND",
            "channel": self.channel,
            "destination": destination,
            "created_at": created_at,
        });
        if !self.memo.is_empty() {
            order["memo"] = Value::String(self.memo.clone());
        }
        order
    }
}

/// The columns of a payout list, as [`PayoutRow`] names them.
pub const COLUMNS: [&str; 16] = [
    "order_id",
    "batch_id",
    "program",
    "period",
    "payment_type",
    "beneficiary_id",
    "full_name",
    "commune_code",
    "amount",
    "channel",
    "bank_bin",
    "account_number",
    "account_name",
    "wallet_provider",
    "phone_number",
    "memo",
];

/// Reads a payout list. A header with a column the list does not have is refused, naming it: a
/// misspelt `memo` or `account_name` was dropped without a word, and the orders went out
/// without it. A line that is not even CSV, or not a payout row, is an error that names its
/// line in the file.
pub fn read_payout_list(path: &Path) -> anyhow::Result<Vec<PayoutRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("could not read {} as UTF-8 text", path.display()))?;
    parse_payout_list(&text).with_context(|| format!("{} is not a payout list", path.display()))
}

/// [`read_payout_list`] of a list's text.
pub fn parse_payout_list(text: &str) -> anyhow::Result<Vec<PayoutRow>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    // A column's name is read without the spaces around it (a spreadsheet's `, memo` or a
    // non-breaking space): checked trimmed and read untrimmed, its cells were dropped unsaid.
    let headers: csv::StringRecord = reader
        .headers()
        .context("the header line is not CSV")?
        .iter()
        .map(str::trim)
        .collect();
    if let Some(unknown) = headers.iter().find(|column| !COLUMNS.contains(column)) {
        anyhow::bail!(
            "the header has a column `{unknown}` that a payout list does not have (its columns: {})",
            COLUMNS.join(", ")
        );
    }
    let line_of =
        |position: Option<&csv::Position>| position.map_or(0, |at| crate::reconcile::line_at(text, at.byte()));
    let rows: Vec<PayoutRow> = reader
        .records()
        .map(|record| {
            let record = record.map_err(|error| {
                let line = line_of(error.position());
                anyhow::Error::new(error).context(format!("line {line} is not CSV"))
            })?;
            // No cell of a payout row holds a line break (the gateway refuses one in any field
            // an order has): one that does is a quote opened and never closed, which CSV reads
            // to the end of the file, and every line after it went into that cell unpublished.
            if let Some(column) = record
                .iter()
                .zip(headers.iter())
                .find_map(|(cell, column)| cell.contains(['\n', '\r']).then_some(column))
            {
                anyhow::bail!(
                    "line {}: its `{column}` cell holds a line break, most likely a quote (\") opened and never \
                     closed, which would read the lines after it into that cell",
                    line_of(record.position())
                );
            }
            record
                .deserialize(Some(&headers))
                .with_context(|| format!("line {} is not a payout row", line_of(record.position())))
        })
        .collect::<anyhow::Result<_>>()?;
    // An export that came out empty is no payout list: publishing "0 orders" and exiting 0
    // read as done to whoever ran it (a cron job, say).
    if rows.is_empty() {
        anyhow::bail!("the list has no payout line (only a header, or nothing)");
    }
    Ok(rows)
}

/// Writes a payout list (the demo writes its sample this way).
pub fn write_payout_list(path: &Path, rows: &[PayoutRow]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("could not write {}", path.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memo that opens a quote and never closes it: CSV reads the rest of the file into that
    /// cell, so the list read as one row, `publish` sent one order and exited 0, and the lines
    /// after it were never published.
    #[test]
    fn a_quote_never_closed_is_refused_not_read_to_the_end_of_the_list() {
        let header = COLUMNS.join(",");
        let line = |n: u32, memo: &str| {
            format!(
                "TB-2026-12-00000{n},TB-2026-12,meritorious,2026-12,monthly,03418700000{n},Nguyen Van Duc,12454,\
                 2789000,bank_transfer,970436,001100445566{n},,,,{memo}"
            )
        };
        let good = format!("{header}\n{}\n{}\n", line(1, "Tro cap"), line(2, "Tro cap"));
        assert_eq!(parse_payout_list(&good).expect("a good list").len(), 2);
        let open = format!(
            "{header}\n{}\n{}\n{}\n",
            line(1, "\"Tro cap thang 12"),
            line(2, "Tro cap"),
            line(3, "Tro cap")
        );
        let error = parse_payout_list(&open).expect_err("refused");
        let message = format!("{error:#}");
        assert!(
            message.contains("line 2: its `memo` cell holds a line break"),
            "{message}"
        );
    }

    /// A misspelt column was dropped without a word: the orders went out without their memo.
    #[test]
    fn a_column_a_payout_list_does_not_have_is_refused_by_name() {
        let header = COLUMNS.join(",").replace(",memo", ",memo_text");
        let error = parse_payout_list(&format!("{header}\n")).expect_err("unknown column");
        assert!(format!("{error:#}").contains("a column `memo_text`"), "{error:#}");
    }

    /// A column named with spaces around it (`, memo`, `account_name `, a non-breaking space
    /// from a spreadsheet) is the column: its cells were dropped without a word, every order
    /// going out with the default memo and no holder's name.
    #[test]
    fn a_column_named_with_spaces_around_it_keeps_its_cells() {
        let header = COLUMNS
            .join(",")
            .replace(",memo", ", memo")
            .replace(",account_name", ",account_name\u{a0}")
            .replace(",amount", ",amount ");
        let line = "TB-1,TB,meritorious,2026-12,monthly,034187000001,A,12454,1000,bank_transfer,970436,001,Nguyen Van A,,,Tro cap";
        let rows = parse_payout_list(&format!("{header}\n{line}\n")).expect("the columns are known");
        assert_eq!(
            (
                rows[0].memo.as_str(),
                rows[0].account_name.as_str(),
                rows[0].amount.as_str()
            ),
            ("Tro cap", "Nguyen Van A", "1000")
        );
    }

    /// An empty export, or one with its header alone, is refused: it published nothing and
    /// exited 0.
    #[test]
    fn a_list_without_a_payout_line_is_refused() {
        for text in ["", "order_id\n", &format!("{}\n", COLUMNS.join(","))] {
            let error = parse_payout_list(text).expect_err("no payout line");
            assert!(format!("{error:#}").contains("no payout line"), "{text:?}: {error:#}");
        }
    }

    /// The line number counted records: after a blank line (or, before line breaks in cells
    /// were refused, a memo over two lines), it pointed above the line at fault.
    #[test]
    fn a_bad_line_is_named_by_its_line_in_the_file() {
        let header = COLUMNS.join(",");
        let good =
            "TB-1,TB,meritorious,2026-12,monthly,034187000001,A,12454,1000,bank_transfer,970436,001,,,,\"two, words\"";
        let short = "TB-2,TB";
        let error = parse_payout_list(&format!("{header}\n{good}\n\n\n{short}\n")).expect_err("a short line");
        assert!(format!("{error:#}").starts_with("line 5 is not"), "{error:#}");
        assert_eq!(
            parse_payout_list(&format!("{header}\n{good}\n"))
                .map(|rows| rows.len())
                .ok(),
            Some(1)
        );
    }

    #[test]
    fn a_line_with_another_channels_destination_cells_keeps_them_for_the_gateway_to_refuse() {
        let mut row = PayoutRow {
            order_id: "TB-NCC-2025-07-000001".to_string(),
            batch_id: "TB-NCC-2025-07".to_string(),
            program: "meritorious".to_string(),
            period: "2025-07".to_string(),
            payment_type: "monthly".to_string(),
            beneficiary_id: "034056001234".to_string(),
            full_name: "Nguyễn Văn Thành".to_string(),
            commune_code: "12430".to_string(),
            amount: "2789000".to_string(),
            channel: "bank_transfer".to_string(),
            bank_bin: "970415".to_string(),
            account_number: "0123456789".to_string(),
            ..PayoutRow::default()
        };
        let limits = crate::order::ChannelLimits::default();
        let created_at = "2025-06-20T08:30:00+07:00";
        let clean = serde_json::to_vec(&row.to_order_json(created_at)).expect("JSON");
        assert!(
            crate::order::parse_order(&clean, &limits).is_ok(),
            "the line without them is an order"
        );
        row.wallet_provider = "viettel_money".to_string();
        row.phone_number = "0912345678".to_string();
        let order = row.to_order_json(created_at);
        let destination = &order["destination"];
        assert_eq!(destination["bank_bin"], "970415");
        assert_eq!(destination["phone_number"], "0912345678", "{order}");
        assert_eq!(destination["wallet_provider"], "viettel_money", "{order}");
        // Empty cells stay out.
        assert!(destination.get("account_name").is_none(), "{order}");
        let body = serde_json::to_vec(&order).expect("JSON");
        let refused =
            crate::order::parse_order(&body, &limits).expect_err("a bank order with a wallet's fields is refused");
        assert_eq!(refused.code, "unknown_field", "{refused:?}");
    }
}
