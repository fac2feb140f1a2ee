//! The payload fingerprint the idempotency claim compares: SHA-256 of the canonical JSON of the
//! parsed order. Spelling differences the contract allows (amount as string or integer, phone
//! as `+84…` or `0…`, key order, an omitted `idempotency_key` or `memo` versus its default)
//! give the same fingerprint; any difference in what would be paid gives a different one.
//! `created_at` is left out: it says when upstream wrote the message, not what to pay, so an
//! order re-sent later (a payout list published twice) is a duplicate, not a conflict.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use gateway_adapter::Destination;

use super::PaymentOrder;

impl PaymentOrder {
    /// Lowercase hex SHA-256 of [`PaymentOrder::canonical_json`].
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// The order in canonical JSON: contract field names, keys sorted at every level, no
    /// whitespace, amount as an integer, phone in national form, no `created_at`,
    /// the idempotency key and memo as resolved (defaults filled in), no `null`s.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(512);
        write_canonical(&self.canonical_value(), &mut out);
        out
    }

    fn canonical_value(&self) -> Value {
        let destination = match &self.destination {
            Destination::BankAccount {
                bin,
                account_number,
                account_name,
            } => {
                let mut fields = Map::new();
                fields.insert("bank_bin".into(), bin.as_str().into());
                fields.insert("account_number".into(), account_number.as_str().into());
                if let Some(name) = account_name {
                    fields.insert("account_name".into(), name.as_str().into());
                }
                Value::Object(fields)
            }
            Destination::VnpostAccount { account_number } => {
                json!({ "account_number": account_number.as_str() })
            }
            Destination::Wallet { provider, msisdn } => json!({
                "wallet_provider": provider.as_str(),
                "phone_number": msisdn.as_str(),
            }),
        };
        json!({
            "order_id": self.order_id.as_str(),
            "idempotency_key": self.idempotency_key.as_str(),
            "batch_id": self.batch_id.as_str(),
            "program": self.program.as_str(),
            "period": self.period.to_string(),
            "payment_type": self.payment_type.as_str(),
            "beneficiary": {
                "id": self.beneficiary.id.as_str(),
                "full_name": self.beneficiary.full_name,
                "commune_code": self.beneficiary.commune_code,
            },
            "amount": self.amount.dong(),
            "currency": "VND",
            "channel": self.channel().as_str(),
            "destination": destination,
            "memo": self.memo,
        })
    }
}

/// Writes `value` with object keys sorted by byte order, whatever order the `Map` keeps (the
/// `preserve_order` feature of serde_json would keep insertion order).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = String::new();
        write_canonical(
            &json!({"b": {"z": 1, "a": [2, {"y": "é", "x": null}]}, "a": true}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":true,"b":{"a":[2,{"x":null,"y":"é"}],"z":1}}"#);
    }
}
