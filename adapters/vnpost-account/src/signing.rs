//! The VNPost style's signature: a `signature` field inside the JSON body, the lowercase hex
//! HMAC-SHA512 over the other top-level fields as sorted `key=value&…` pairs; and its
//! `yyyyMMddHHmmss` timestamps in Vietnam time (UTC+7).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use gateway_adapter::signing::{hmac_sha512, sorted_fields, verify_hmac_sha512};
use serde::Serialize;
use serde_json::{Map, Value};

/// The body field that carries the signature; it is never part of what it signs.
pub const SIGNATURE_FIELD: &str = "signature";
/// The body field that carries the `yyyyMMddHHmmss` time of signing.
pub const TIMESTAMP_FIELD: &str = "timestamp";

/// Asia/Ho_Chi_Minh: UTC+7 all year (Vietnam has no daylight saving time).
const VIETNAM_OFFSET_SECS: i32 = 7 * 3600;
const TIMESTAMP_FORMAT: &str = "%Y%m%d%H%M%S";

/// A wire message that carries its own `signature` field.
pub trait Signed: Serialize {
    fn set_signature(&mut self, signature: String);
}

/// A field's plain string form for signing: strings as they are, numbers as their digits,
/// booleans as `true`/`false`; `None` for null, which is left out like an absent field.
/// (Nested objects and arrays do not occur in this protocol; they sign as compact JSON.)
pub fn plain_value(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// The signed string: every top-level field except `signature` and nulls, sorted by key,
/// joined as `key=value&key=value`.
pub fn signing_string(fields: &Map<String, Value>) -> String {
    let plain: BTreeMap<String, String> = fields
        .iter()
        .filter(|(key, _)| key.as_str() != SIGNATURE_FIELD)
        .filter_map(|(key, value)| plain_value(value).map(|text| (key.clone(), text)))
        .collect();
    sorted_fields(&plain)
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

/// Why a signed body did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `signature` field, or a null one.
    Missing,
    /// A signature that is not hex or does not match the fields (constant-time check).
    Bad,
}

/// Checks the `signature` field of a parsed body in constant time.
pub fn verify_fields(secret: &[u8], fields: &Map<String, Value>) -> Result<(), SignatureProblem> {
    let signature = match fields.get(SIGNATURE_FIELD) {
        None | Some(Value::Null) => return Err(SignatureProblem::Missing),
        Some(Value::String(text)) => text,
        Some(_) => return Err(SignatureProblem::Bad),
    };
    let tag = hex::decode(signature.trim()).map_err(|_| SignatureProblem::Bad)?;
    if verify_hmac_sha512(secret, signing_string(fields).as_bytes(), &tag) {
        Ok(())
    } else {
        Err(SignatureProblem::Bad)
    }
}

/// Parses raw bytes as a JSON object, the generic form signatures are checked on.
pub fn parse_fields(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(VIETNAM_OFFSET_SECS).expect("UTC+7 is within the ±24 h an offset allows")
}

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
