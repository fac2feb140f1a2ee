//! HMAC helpers shared by the adapters and their sandboxes; verification is constant-time.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha512};

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // An HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA512 of `message` under `key`.
pub fn hmac_sha512(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Checks an HMAC-SHA256 tag in constant time.
pub fn verify_hmac_sha256(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

/// Whether a tag someone sent equals the one computed here, in time that does not depend on
/// where they differ (their lengths are not secret). For checking one message against many
/// tags: compute the expected tag once, then compare each.
pub fn tags_equal(expected: &[u8], given: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == given.len() && bool::from(expected.ct_eq(given))
}

/// Checks an HMAC-SHA512 tag in constant time.
pub fn verify_hmac_sha512(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

/// The `key=value&key=value` string over fields sorted by key, which the VNPost and
/// mobile-money styles sign. In every key and value `%` becomes `%25`, `&` becomes `%26` and
/// `=` becomes `%3D` (nothing else is encoded), so the string names exactly one field set: a
/// value holding `&x=y` can no longer sign like an extra field, and a signed message cannot
/// be re-minted with its field boundaries moved.
pub fn sorted_fields(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{}={}", escape_separators(key), escape_separators(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `text` with `%`, `&` and `=` percent-encoded (`%25`, `%26`, `%3D`); `%` first, so an escape
/// the sender wrote is escaped again and cannot pass for a separator.
fn escape_separators(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '&', '=']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '=' => out.push_str("%3D"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// The body field that carries a signature in the signed-JSON styles (VNPost, wallets); it
/// is never part of what it signs.
pub const SIGNATURE_FIELD: &str = "signature";

/// A JSON object's top-level fields, as parsed from a body.
pub type JsonFields = Map<String, Value>;

/// Why a signature carried inside a JSON body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `signature` field, a `null` one or an empty one.
    Missing,
    /// A signature that is not a hex string, or was made over other values or another key.
    Bad,
}

/// A field's plain string form for signing, before [`sorted_fields`] escapes its separators:
/// strings as they are (no quotes), numbers as their digits, `true`/`false`; `None` for
/// `null`, which is left out like an absent field. Nested arrays and objects sign as compact
/// JSON.
pub fn plain_value(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// The string a body signature covers: every top-level field except `signature` and
/// `null`s, as `key=value` pairs sorted by key and joined by `&`, separators in keys and
/// values percent-encoded (see [`sorted_fields`]).
pub fn body_signing_string(fields: &JsonFields) -> String {
    let plain: BTreeMap<String, String> = fields
        .iter()
        .filter(|(key, _)| key.as_str() != SIGNATURE_FIELD)
        .filter_map(|(key, value)| plain_value(value).map(|text| (key.clone(), text)))
        .collect();
    sorted_fields(&plain)
}

/// The decoded tag of a body's `signature` field, for a constant-time check.
pub fn body_signature_tag(fields: &JsonFields) -> Result<Vec<u8>, SignatureProblem> {
    match fields.get(SIGNATURE_FIELD) {
        None | Some(Value::Null) => Err(SignatureProblem::Missing),
        Some(Value::String(text)) if text.trim().is_empty() => Err(SignatureProblem::Missing),
        Some(Value::String(text)) => hex::decode(text.trim()).map_err(|_| SignatureProblem::Bad),
        Some(_) => Err(SignatureProblem::Bad),
    }
}

/// Parses raw bytes as a JSON object without interpreting any field: the generic form a
/// body signature is checked on, before anything is parsed into wire types.
pub fn parse_json_object(body: &[u8]) -> Option<JsonFields> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hmac_sha256(b"Jefe", b"what do ya want for nothing?", &tag));
        assert!(!verify_hmac_sha256(b"Jefe", b"what do ya want for something?", &tag));
    }

    #[test]
    fn body_signatures_cover_sorted_plain_values_without_the_signature_or_nulls() {
        let fields = parse_json_object(br#"{"b":2,"a":"x y","signature":"00","n":null,"t":true}"#).expect("object");
        assert_eq!(body_signing_string(&fields), "a=x y&b=2&t=true");
        assert_eq!(body_signature_tag(&fields), Ok(vec![0]));
        let unsigned = parse_json_object(br#"{"a":1,"signature":""}"#).expect("object");
        assert_eq!(body_signature_tag(&unsigned), Err(SignatureProblem::Missing));
        let numeric = parse_json_object(br#"{"a":1,"signature":12}"#).expect("object");
        assert_eq!(body_signature_tag(&numeric), Err(SignatureProblem::Bad));
        assert!(parse_json_object(b"[1]").is_none());
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_value_or_key_holding_separators_can_no_longer_pass_for_other_fields() {
        let two_fields = map(&[("a", "1"), ("b", "2")]);
        let value_with_separators = map(&[("a", "1&b=2")]);
        let key_with_separators = map(&[("a=1&b", "2")]);
        assert_ne!(sorted_fields(&value_with_separators), sorted_fields(&two_fields));
        assert_ne!(sorted_fields(&key_with_separators), sorted_fields(&two_fields));
        assert_ne!(
            hmac_sha256(b"k", sorted_fields(&value_with_separators).as_bytes()),
            hmac_sha256(b"k", sorted_fields(&two_fields).as_bytes())
        );
        // The documented rule: `%`, `&` and `=` become `%25`, `%26` and `%3D`, in keys and values.
        assert_eq!(sorted_fields(&value_with_separators), "a=1%26b%3D2");
        assert_eq!(sorted_fields(&key_with_separators), "a%3D1%26b=2");
        // An escape written by the sender is escaped again, so it cannot pass for a separator.
        let pre_escaped = map(&[("a", "1%26b%3D2")]);
        assert_eq!(sorted_fields(&pre_escaped), "a=1%2526b%253D2");
        assert_eq!(sorted_fields(&map(&[("memo", "a b/c")])), "memo=a b/c");
    }

    #[test]
    fn sorted_fields_orders_by_key() {
        let fields: BTreeMap<String, String> = [("b", "2"), ("a", "1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(sorted_fields(&fields), "a=1&b=2");
    }
}
