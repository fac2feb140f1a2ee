//! Deserialisers for ids and stamps a provider may send as a JSON string or a number: both sign
//! the same (signatures are over the plain text of each field), so both must also parse.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An optional field sent as a string or a number; `None` when absent or `null`.
pub fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        // The value is not quoted: a provider's body may hold personal data.
        Some(_) => Err(serde::de::Error::custom("expected a string or a number")),
    }
}

/// A required field sent as a string or a number.
pub fn required_string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    string_or_number(deserializer)?.ok_or_else(|| serde::de::Error::custom("expected a string or a number, not null"))
}

/// A whole number (a stamp in milliseconds, say) sent as a JSON integer or as a string of
/// ASCII digits with an optional leading `-`; `None` for anything else.
pub fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            text.parse().ok()
        }
        _ => None,
    }
}

/// A required whole number sent as a JSON integer or a string of digits ([`whole_number`]).
pub fn required_whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    // The value is not quoted: a provider's body may hold personal data.
    whole_number(&Value::deserialize(deserializer)?)
        .ok_or_else(|| serde::de::Error::custom("expected a whole number, or its digits as a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "required_string_or_number")]
        id: String,
        #[serde(default, deserialize_with = "string_or_number")]
        reference: Option<String>,
    }

    fn parsed(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn a_whole_number_is_an_integer_or_its_digits_and_nothing_else() {
        assert_eq!(
            whole_number(&serde_json::json!(1_767_225_600_000_i64)),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            whole_number(&serde_json::json!("1767225600000")),
            Some(1_767_225_600_000)
        );
        assert_eq!(whole_number(&serde_json::json!("-5")), Some(-5));
        for wrong in [
            serde_json::json!("+5"),
            serde_json::json!(" 5"),
            serde_json::json!("5.0"),
            serde_json::json!(""),
            serde_json::json!("-"),
            serde_json::json!("99999999999999999999"),
            serde_json::json!(5.5),
            serde_json::json!(true),
            serde_json::json!(null),
        ] {
            assert_eq!(whole_number(&wrong), None, "{wrong}");
        }
    }

    #[test]
    fn an_id_is_a_string_or_a_number_and_nothing_else() {
        let body = parsed(r#"{"id": 20260101070000, "reference": "R-1"}"#).expect("a number");
        assert_eq!(
            (body.id.as_str(), body.reference.as_deref()),
            ("20260101070000", Some("R-1"))
        );
        let body = parsed(r#"{"id": "E-1", "reference": 42}"#).expect("a string");
        assert_eq!((body.id.as_str(), body.reference.as_deref()), ("E-1", Some("42")));
        assert_eq!(parsed(r#"{"id": "E-1"}"#).expect("absent").reference, None);
        assert_eq!(
            parsed(r#"{"id": "E-1", "reference": null}"#).expect("null").reference,
            None
        );
        for wrong in [r#"{"id": null}"#, r#"{"id": ["secret"]}"#, r#"{"id": true}"#, "{}"] {
            let error = parsed(wrong).expect_err(wrong);
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
