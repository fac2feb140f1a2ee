//! Walking a JSON object field by field for `parse_order`: unknown-field, missing-field and
//! type checks with messages that name the field, and a duplicate-key check on the raw body.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use gateway_adapter::Invalid;

/// A field name fit to quote in an error: short snake case starting with a letter; anything
/// else (which could be a value pasted as a key) is not echoed.
pub(crate) fn describe_key(key: &str) -> String {
    let plain = (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        key.to_string()
    } else {
        "(a field with an unexpected name)".to_string()
    }
}

/// The fields of one JSON object, already checked for unknown names.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// `""`, `"beneficiary."` or `"destination."`: how messages name this object's fields.
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(
        map: &'a Map<String, Value>,
        prefix: &'static str,
        allowed: &[&str],
        what: &str,
    ) -> Result<Self, Invalid> {
        let mut unknown: Vec<&String> = map.keys().filter(|key| !allowed.contains(&key.as_str())).collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            return Err(Invalid::new(
                "unknown_field",
                format!("{prefix}{} is not a field of {what}", describe_key(key)),
            ));
        }
        Ok(Self { map, prefix })
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Adds the field's name to a newtype's refusal unless the sentence names it already.
    pub(crate) fn named(&self, name: &str, error: Invalid) -> Invalid {
        let path = self.path(name);
        if error.message.contains(&path) {
            error
        } else {
            Invalid::new(error.code, format!("{path}: {}", error.message))
        }
    }

    pub(crate) fn required(&self, name: &str) -> Result<&'a Value, Invalid> {
        self.map
            .get(name)
            .ok_or_else(|| Invalid::new("missing_field", format!("{} is required", self.path(name))))
    }

    fn wrong_type(&self, name: &str, expected: &str) -> Invalid {
        Invalid::new("wrong_type", format!("{} must be {expected}", self.path(name)))
    }

    pub(crate) fn required_str(&self, name: &str) -> Result<&'a str, Invalid> {
        self.required(name)?
            .as_str()
            .ok_or_else(|| self.wrong_type(name, "a string"))
    }

    /// An optional string field; `null` counts as absent.
    pub(crate) fn optional_str(&self, name: &str) -> Result<Option<&'a str>, Invalid> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    /// A nested object, its field names checked against `allowed`.
    pub(crate) fn object(
        &self,
        name: &str,
        prefix: &'static str,
        allowed: &[&str],
        what: &str,
    ) -> Result<Fields<'a>, Invalid> {
        let map = self
            .required(name)?
            .as_object()
            .ok_or_else(|| self.wrong_type(name, "a JSON object"))?;
        Fields::new(map, prefix, allowed, what)
    }
}

/// Accepts any JSON whose objects never repeat a key: `{"amount":"1","amount":"9"}` would
/// otherwise silently keep the last value, and another reader might keep the first.
pub(crate) struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "field {} appears twice in one object",
                    describe_key(&key)
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
}
