//! The VNPost style's signature: a `signature` field inside the JSON body, the lowercase hex
//! HMAC-SHA512 over the other top-level fields as sorted `key=value&…` pairs (with `%`, `&`
//! and `=` percent-encoded in keys and values, so no value can pass for extra fields); and
//! its `yyyyMMddHHmmss` timestamps in Vietnam time (UTC+7).

use chrono::{DateTime, NaiveDateTime};
use gateway_adapter::signing::{body_signature_tag, hmac_sha512, verify_hmac_sha512};
pub use gateway_adapter::signing::{
    body_signing_string as signing_string, parse_json_object as parse_fields, plain_value, SignatureProblem,
    SIGNATURE_FIELD,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// The body field that carries the `yyyyMMddHHmmss` time of signing.
pub const TIMESTAMP_FIELD: &str = "timestamp";

const TIMESTAMP_FORMAT: &str = "%Y%m%d%H%M%S";

/// A wire message that carries its own `signature` field.
pub trait Signed: Serialize {
    fn set_signature(&mut self, signature: String);
}

/// The `signature` value for these fields: lowercase hex HMAC-SHA512 of the signing string.
pub fn sign_fields(secret: &[u8], fields: &Map<String, Value>) -> String {
    hex::encode(hmac_sha512(secret, signing_string(fields).as_bytes()))
}

/// Returns `message` with its `signature` field computed over its other fields.
pub fn seal<T: Signed>(secret: &[u8], mut message: T) -> Result<T, serde_json::Error> {
    let Value::Object(fields) = serde_json::to_value(&message)? else {
        return Err(serde::ser::Error::custom("a signed message is a JSON object"));
    };
    message.set_signature(sign_fields(secret, &fields));
    Ok(message)
}

/// Checks the `signature` field of a parsed body in constant time.
pub fn verify_fields(secret: &[u8], fields: &Map<String, Value>) -> Result<(), SignatureProblem> {
    let tag = body_signature_tag(fields)?;
    if verify_hmac_sha512(secret, signing_string(fields).as_bytes(), &tag) {
        Ok(())
    } else {
        Err(SignatureProblem::Bad)
    }
}

use gateway_adapter::vietnam_time::offset as vietnam;

/// `yyyyMMddHHmmss` in Vietnam time for unix seconds: `1767225600` → `20260101070000`.
pub fn format_timestamp(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .with_timezone(&vietnam())
        .format(TIMESTAMP_FORMAT)
        .to_string()
}

/// Unix seconds for a `yyyyMMddHHmmss` Vietnam-time timestamp; `None` unless it is exactly
/// 14 digits of a real date and time.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let local = NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT).ok()?;
    local
        .and_local_timezone(vietnam())
        .single()
        .map(|time| time.timestamp())
}

/// The unix time of a body's `timestamp` field (a string, or digits as a number).
pub fn timestamp_of(fields: &Map<String, Value>) -> Option<i64> {
    fields
        .get(TIMESTAMP_FIELD)
        .and_then(plain_value)
        .and_then(|text| parse_timestamp(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: serde_json::Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_signing_string_sorts_keys_and_leaves_out_nulls_and_the_signature() {
        let body = fields(serde_json::json!({
            "timestamp": "20260101070000", "amount": 500000, "fail_code": null,
            "signature": "abc", "account_no": "0011004455667"
        }));
        assert_eq!(
            signing_string(&body),
            "account_no=0011004455667&amount=500000&timestamp=20260101070000"
        );
    }

    #[test]
    fn a_signature_verifies_and_any_changed_field_breaks_it() {
        let mut body = fields(serde_json::json!({"amount": 500000, "request_id": "p1"}));
        let signature = sign_fields(b"k", &body);
        body.insert(SIGNATURE_FIELD.into(), Value::String(signature));
        assert_eq!(verify_fields(b"k", &body), Ok(()));
        assert_eq!(verify_fields(b"other", &body), Err(SignatureProblem::Bad));
        body.insert("amount".into(), serde_json::json!(5_000_000));
        assert_eq!(verify_fields(b"k", &body), Err(SignatureProblem::Bad));
        body.remove(SIGNATURE_FIELD);
        assert_eq!(verify_fields(b"k", &body), Err(SignatureProblem::Missing));
    }

    #[test]
    fn timestamps_are_vietnam_time_and_round_trip() {
        assert_eq!(format_timestamp(1_767_225_600), "20260101070000");
        assert_eq!(parse_timestamp("20260101070000"), Some(1_767_225_600));
        assert_eq!(parse_timestamp("2026010107000"), None);
        assert_eq!(parse_timestamp("20261301070000"), None);
        assert_eq!(parse_timestamp("+2026010107000"), None);
    }
}
