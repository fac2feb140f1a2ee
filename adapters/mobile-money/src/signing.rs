//! The wallet style's signature: lowercase hex HMAC-SHA256 over the sorted
//! `key=value&key=value` string of every top-level field except `signature`. Requests,
//! answers and IPN callbacks are all signed this way, with the one shared secret key.
//!
//! Values are signed in their plain string form: strings as they are (no quotes), numbers as
//! their digits, `true`/`false`; absent and `null` fields are left out. Nested arrays or
//! objects (the protocol has none) are signed as compact JSON. `%`, `&` and `=` in keys and
//! values are percent-encoded before joining (`gateway_adapter::signing::sorted_fields`), so
//! no value can pass for extra fields.

use gateway_adapter::signing::{body_signature_tag, hmac_sha256, verify_hmac_sha256};
pub use gateway_adapter::signing::{
    body_signing_string as signing_string, parse_json_object as parse_fields, plain_value, JsonFields as Fields,
    SignatureProblem, SIGNATURE_FIELD,
};
use serde::Serialize;
use serde_json::Value;

/// The `signature` value for `fields`: lowercase hex HMAC-SHA256 of the signing string.
pub fn sign(secret: &[u8], fields: &Fields) -> String {
    hex::encode(hmac_sha256(secret, signing_string(fields).as_bytes()))
}

/// Checks the `signature` field of `fields` in constant time.
pub fn verify(secret: &[u8], fields: &Fields) -> Result<(), SignatureProblem> {
    let tag = body_signature_tag(fields)?;
    if verify_hmac_sha256(secret, signing_string(fields).as_bytes(), &tag) {
        Ok(())
    } else {
        Err(SignatureProblem::Bad)
    }
}

/// The top-level fields of a serialisable struct; an error if it is not a JSON object.
pub fn to_fields<T: Serialize>(value: &T) -> Result<Fields, serde_json::Error> {
    match serde_json::to_value(value)? {
        Value::Object(fields) => Ok(fields),
        // The value is not quoted: a request carries a phone number and a name.
        _ => Err(serde::ser::Error::custom("a signed message must be a JSON object")),
    }
}

/// `fields` with their `signature` set (replacing any there was).
pub fn signed(secret: &[u8], mut fields: Fields) -> Fields {
    fields.remove(SIGNATURE_FIELD);
    let signature = sign(secret, &fields);
    fields.insert(SIGNATURE_FIELD.into(), Value::String(signature));
    fields
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(fields) => fields,
            _ => panic!("a JSON object"),
        }
    }

    #[test]
    fn the_signing_string_sorts_keys_and_skips_signature_and_nulls() {
        let body = fields(json!({
            "requestId": "pay-1", "amount": 500000, "signature": "ff", "failCode": null,
            "lang": "vi", "ok": true
        }));
        assert_eq!(signing_string(&body), "amount=500000&lang=vi&ok=true&requestId=pay-1");
    }

    #[test]
    fn a_signed_object_verifies_and_any_changed_value_does_not() {
        let body = signed(b"k", fields(json!({"requestId": "pay-1", "amount": 500000})));
        assert_eq!(verify(b"k", &body), Ok(()));
        assert_eq!(verify(b"other", &body), Err(SignatureProblem::Bad));
        let mut changed = body.clone();
        changed.insert("amount".into(), json!(5000000));
        assert_eq!(verify(b"k", &changed), Err(SignatureProblem::Bad));
        let mut not_hex = body.clone();
        not_hex.insert(SIGNATURE_FIELD.into(), json!("zz"));
        assert_eq!(verify(b"k", &not_hex), Err(SignatureProblem::Bad));
        let mut unsigned = body;
        unsigned.remove(SIGNATURE_FIELD);
        assert_eq!(verify(b"k", &unsigned), Err(SignatureProblem::Missing));
        unsigned.insert(SIGNATURE_FIELD.into(), json!(""));
        assert_eq!(verify(b"k", &unsigned), Err(SignatureProblem::Missing));
    }

    #[test]
    fn a_value_holding_separators_does_not_sign_like_extra_fields() {
        let folded = signing_string(&fields(json!({"amount": "500000&failCode=1002"})));
        let separate = signing_string(&fields(json!({"amount": 500000, "failCode": 1002})));
        assert_eq!(folded, "amount=500000%26failCode%3D1002");
        assert_eq!(separate, "amount=500000&failCode=1002");
    }

    #[test]
    fn a_number_and_its_digits_as_a_string_sign_alike() {
        // The signature covers plain values, so the provider may send `amount` either way.
        let as_number = sign(b"k", &fields(json!({"amount": 500000})));
        let as_string = sign(b"k", &fields(json!({"amount": "500000"})));
        assert_eq!(as_number, as_string);
    }

    #[test]
    fn only_json_objects_parse_as_fields() {
        assert!(parse_fields(br#"{"a":1}"#).is_some());
        assert!(parse_fields(b"[1]").is_none());
        assert!(parse_fields(b"not json").is_none());
    }
}
