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
        match self.channel.as_str() {
            "bank_transfer" => {
                put("bank_bin", &self.bank_bin);
                put("account_number", &self.account_number);
                put("account_name", &self.account_name);
            }
            "vnpost_account" => put("account_number", &self.account_number),
            "mobile_money" => {
                put("wallet_provider", &self.wallet_provider);
                put("phone_number", &self.phone_number);
            }
            _ => {
                put("bank_bin", &self.bank_bin);
                put("account_number", &self.account_number);
                put("wallet_provider", &self.wallet_provider);
                put("phone_number", &self.phone_number);
            }
        }
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

/// Reads a payout list; a line that is not even CSV is an error that names the line.
pub fn read_payout_list(path: &Path) -> anyhow::Result<Vec<PayoutRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("could not open {}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(index, row)| {
            row.with_context(|| format!("line {} of {} is not a payout row", index + 2, path.display()))
        })
        .collect()
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
