//! Masks the personal data in a dead letter's body before `gateway dlq show` prints it.
//!
//! Masked: `beneficiary.id`, `destination.account_number` and `destination.phone_number`
//! (all but the last three characters) and `beneficiary.full_name`,
//! `destination.account_name` (initials). Any field an order or a batch manifest does not have
//! (`beneficiary.name`, an envelope `{"order": {…}}`) is shown by its name with `***` for its
//! value: the refused orders are the ones whose fields are not where masking looks, and
//! showing those in clear printed the data under the wrong name. A body that is not a JSON
//! object (not JSON, or an array of orders, or an order encoded twice as a JSON string) cannot
//! be masked field by field, so it is not printed unless `--unmasked` is given.

use gateway_adapter::mask::{mask_name, mask_tail};
use serde_json::Value;

/// (object, field, masked as a name rather than a number)
const PERSONAL_FIELDS: [(&str, &str, bool); 5] = [
    ("beneficiary", "id", false),
    ("beneficiary", "full_name", true),
    ("destination", "account_number", false),
    ("destination", "phone_number", false),
    ("destination", "account_name", true),
];

/// The objects within an order or a manifest, and the fields each may have (the contract's own
/// lists, so that what is shown follows what is accepted).
fn kept_within() -> [(&'static str, Vec<&'static str>); 3] {
    use crate::order::contract;
    let destination = [contract::BANK_FIELDS, contract::VNPOST_FIELDS, contract::WALLET_FIELDS].concat();
    [
        ("beneficiary", contract::BENEFICIARY_FIELDS.to_vec()),
        ("destination", destination),
        ("orders", crate::batch::MANIFEST_LINE_FIELDS.to_vec()),
    ]
}

/// Replaces the value of every field of `object` not in `kept` with `***`, and of every field
/// in `scalars` whose value is an object or an array (data nested where a plain value belongs,
/// `"memo": {"full_name": …}`, is no plain value).
fn hide_other_fields(object: &mut serde_json::Map<String, Value>, kept: &[&str], scalars: &[&str]) {
    for (name, value) in object.iter_mut() {
        let unknown = !kept.contains(&name.as_str()) && !value.is_null();
        let nested = scalars.contains(&name.as_str()) && (value.is_object() || value.is_array());
        if unknown || nested {
            *value = Value::String("***".to_string());
        }
    }
}

/// Masks the personal fields of an order body in place. Values of the wrong JSON type are
/// masked too (a number as its digits, anything else wholly), since they may still be data;
/// so is a `beneficiary` or `destination` that is not an object.
pub fn mask_order(body: &mut Value) {
    for object in ["beneficiary", "destination"] {
        if let Some(value) = body.get_mut(object).filter(|v| !v.is_object() && !v.is_null()) {
            *value = Value::String("***".to_string());
        }
    }
    for (object, field, is_name) in PERSONAL_FIELDS {
        let Some(value) = body.get_mut(object).and_then(|o| o.get_mut(field)) else {
            continue;
        };
        let masked = match value {
            Value::Null => continue,
            Value::String(text) if is_name => mask_name(text),
            Value::String(text) => mask_tail(text),
            Value::Number(number) if !is_name => mask_tail(&number.to_string()),
            _ => "***".to_string(),
        };
        *value = Value::String(masked);
    }
    let Some(top) = body.as_object_mut() else {
        return;
    };
    let within = kept_within();
    for (name, kept) in &within {
        match top.get_mut(*name) {
            Some(Value::Object(object)) => hide_other_fields(object, kept, kept),
            Some(Value::Array(lines)) if *name == "orders" => {
                for line in lines.iter_mut() {
                    match line {
                        Value::Object(object) => hide_other_fields(object, kept, kept),
                        other => *other = Value::String("***".to_string()),
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => *other = Value::String("***".to_string()),
        }
    }
    // The top level: an order's fields and a manifest's; those that are no object of their
    // own hold plain values.
    let kept = [crate::order::contract::ORDER_FIELDS, crate::batch::MANIFEST_FIELDS].concat();
    let plain: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|field| within.iter().all(|(name, _)| name != field))
        .collect();
    hide_other_fields(top, &kept, &plain);
}

/// The body as `show` prints it: pretty JSON (masked unless `unmasked`), or the raw text
/// when `unmasked` and the body is not JSON, or a sentence saying why it is not shown.
pub fn render_body(body: &[u8], unmasked: bool) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if unmasked => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Ok(mut value) if value.is_object() => {
            mask_order(&mut value);
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
        // An array of orders, or an order encoded twice (a JSON string): the fields are not
        // where masking looks for them, and printing it would show every one in clear.
        Ok(_) => format!(
            "({} bytes of JSON that is not an object; not shown because personal data in it cannot be \
             masked: use --unmasked)",
            body.len()
        ),
        Err(_) if unmasked => String::from_utf8_lossy(body).into_owned(),
        Err(_) => format!(
            "({} bytes that are not JSON; not shown because personal data in them cannot be masked: \
             use --unmasked)",
            body.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An array of orders, or an order encoded twice, was printed whole: masking looks for
    /// `beneficiary` in an object and found none.
    #[test]
    fn a_body_that_is_not_an_object_is_not_shown_without_unmasked() {
        let order = json!({"order_id": "TB-1", "beneficiary": {"id": "034187000001"}});
        let array = serde_json::to_vec(&json!([order.clone()])).unwrap_or_default();
        let twice = serde_json::to_vec(&Value::String(order.to_string())).unwrap_or_default();
        for body in [array, twice] {
            let shown = render_body(&body, false);
            assert!(!shown.contains("034187000001"), "{shown}");
            assert!(shown.contains("not an object"), "{shown}");
            assert!(render_body(&body, true).contains("034187000001"));
        }
    }

    #[test]
    fn masks_every_personal_field() {
        let mut order = json!({
            "order_id": "TB-1",
            "beneficiary": { "id": "034187000001", "full_name": "Nguyễn Văn Đức", "commune_code": "12454" },
            "destination": { "bank_bin": "970436", "account_number": "0011004455667", "account_name": "Nguyễn Văn Đức",
                             "phone_number": 84981234567u64 }
        });
        mask_order(&mut order);
        assert_eq!(order["beneficiary"]["id"], "*********001");
        assert_eq!(order["beneficiary"]["full_name"], "N***** V** Đ**");
        assert_eq!(order["beneficiary"]["commune_code"], "12454");
        assert_eq!(order["destination"]["account_number"], "**********667");
        assert_eq!(order["destination"]["account_name"], "N***** V** Đ**");
        assert_eq!(order["destination"]["phone_number"], "********567");
        assert_eq!(order["destination"]["bank_bin"], "970436");
    }

    #[test]
    fn masks_odd_shapes_wholly() {
        let mut order = json!({ "beneficiary": "034187000001", "destination": { "account_name": ["x"] } });
        mask_order(&mut order);
        assert_eq!(order["beneficiary"], "***", "not an object: masked wholly");
        assert_eq!(order["destination"]["account_name"], "***");
    }

    /// A refused order whose data is not where masking looks — in an envelope, or under a
    /// field the contract does not have — was printed in clear; such a field is shown by its
    /// name, its value `***`. The contract's plain fields, and a manifest's lines, stay.
    #[test]
    fn a_field_an_order_does_not_have_is_shown_by_its_name_only() {
        let order = json!({"order_id": "TB-1", "beneficiary": {"id": "034187000001", "full_name": "Nguyễn Văn Đức"}});
        let mut envelope = json!({ "order": order, "note": "Nguyễn Văn Đức 0981234567" });
        mask_order(&mut envelope);
        assert_eq!(envelope, json!({ "order": "***", "note": "***" }));
        let mut misnamed = json!({
            "order_id": "TB-2",
            "amount": "1500000",
            "beneficiary": { "name": "Nguyễn Văn Đức", "citizen_id": "034187000001", "commune_code": "12454" },
            "destination": { "bank_bin": "970436", "phone": "0981234567" },
        });
        mask_order(&mut misnamed);
        assert_eq!(
            misnamed,
            json!({
                "order_id": "TB-2",
                "amount": "1500000",
                "beneficiary": { "name": "***", "citizen_id": "***", "commune_code": "12454" },
                "destination": { "bank_bin": "970436", "phone": "***" },
            })
        );
        let mut manifest = json!({
            "kind": "batch_manifest", "batch_id": "TB", "order_count": 1, "total_amount": "1",
            "orders": [{ "order_id": "TB-1", "amount": "1", "full_name": "Nguyễn Văn Đức" }, "034187000001"],
        });
        mask_order(&mut manifest);
        assert_eq!(
            manifest["orders"],
            json!([{ "order_id": "TB-1", "amount": "1", "full_name": "***" }, "***"])
        );
        assert_eq!(manifest["batch_id"], "TB");
        let mut nested = json!({
            "order_id": "TB-3",
            "memo": { "full_name": "Nguyễn Văn Đức" },
            "beneficiary": { "commune_code": ["034187000001"] },
        });
        mask_order(&mut nested);
        assert_eq!(
            nested,
            json!({ "order_id": "TB-3", "memo": "***", "beneficiary": { "commune_code": "***" } })
        );
    }

    #[test]
    fn does_not_print_a_body_it_cannot_mask() {
        let body = b"{\"beneficiary\": {\"id\": \"034187000001\"";
        assert!(!render_body(body, false).contains("034187000001"));
        assert!(render_body(body, true).contains("034187000001"));
    }
}
