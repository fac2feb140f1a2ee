//! Masks the personal data in a dead letter's body before `gateway dlq show` prints it.
//!
//! Masked: `beneficiary.id`, `destination.account_number` and `destination.phone_number`
//! (all but the last three characters) and `beneficiary.full_name`,
//! `destination.account_name` (initials). A body that is not a JSON object (not JSON, or an
//! array of orders, or an order encoded twice as a JSON string) cannot be masked field by
//! field, so it is not printed unless `--unmasked` is given.

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

    #[test]
    fn does_not_print_a_body_it_cannot_mask() {
        let body = b"{\"beneficiary\": {\"id\": \"034187000001\"";
        assert!(!render_body(body, false).contains("034187000001"));
        assert!(render_body(body, true).contains("034187000001"));
    }
}
