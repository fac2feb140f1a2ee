//! The AMQP properties of an outbox message, kept as JSON, and bounded to what AMQP can carry.
//!
//! AMQP sends `message_id`, `correlation_id`, `content_type` and header names as short
//! strings of at most 255 bytes; lapin panics on a longer one. Ids come from upstream (an
//! order id of 64 emoji is 256 bytes), so every value is cut to fit before the row is
//! written, on a character boundary, and the full value stays in the message body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest AMQP short string, in bytes.
pub const SHORT_STRING_MAX_BYTES: usize = 255;
/// The longest header value kept. AMQP allows 4 GiB, but the whole property set must fit in
/// one frame (128 KiB by default) or the broker closes the connection; the original bytes
/// are in the body, so a header only needs to say enough for a person to act on.
pub const HEADER_VALUE_MAX_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) one message carries; headers past it are left
/// out, the gateway's own `x-gateway-*` headers first in line to stay.
pub const HEADERS_MAX_BYTES: usize = 64 * 1024;

/// The properties of a message that matter for replay, in a form the store can keep as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredProperties {
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    /// Header values are kept as strings; RabbitMQ's own `x-death` tables are left out.
    pub headers: BTreeMap<String, String>,
}

impl StoredProperties {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    pub fn from_json(raw: &str) -> Self {
        serde_json::from_str(raw).unwrap_or_default()
    }

    /// A copy with the gateway's dead-letter headers added.
    pub fn with_dead_letter(&self, reason: &str, detail: &str) -> Self {
        let mut copy = self.clone();
        copy.headers.insert("x-gateway-reason".to_string(), reason.to_string());
        copy.headers.insert("x-gateway-detail".to_string(), detail.to_string());
        copy
    }

    /// A copy every part of which AMQP can carry: ids cut with [`bounded_id`] (so two long
    /// ids that share a prefix stay apart), content type and header names cut to 255 bytes,
    /// header values to [`HEADER_VALUE_MAX_BYTES`], all headers to [`HEADERS_MAX_BYTES`].
    pub fn bounded(&self) -> Self {
        let mut headers = BTreeMap::new();
        let mut total = 0;
        let (gateway, others): (Vec<_>, Vec<_>) =
            self.headers.iter().partition(|(key, _)| key.starts_with("x-gateway-"));
        for (key, value) in gateway.into_iter().chain(others) {
            let key = cut(key, SHORT_STRING_MAX_BYTES);
            let value = cut(value, HEADER_VALUE_MAX_BYTES);
            if total + key.len() + value.len() > HEADERS_MAX_BYTES {
                continue;
            }
            total += key.len() + value.len();
            headers.insert(key.to_string(), value.to_string());
        }
        Self {
            content_type: self
                .content_type
                .as_deref()
                .map(|value| cut(value, SHORT_STRING_MAX_BYTES).to_string()),
            message_id: self
                .message_id
                .as_deref()
                .map(|value| bounded_id(value, SHORT_STRING_MAX_BYTES)),
            correlation_id: self
                .correlation_id
                .as_deref()
                .map(|value| bounded_id(value, SHORT_STRING_MAX_BYTES)),
            headers,
        }
    }
}

/// `value` if it has at most `max_bytes` bytes; otherwise its longest prefix that leaves room
/// for `~` and 16 hex digits of its SHA-256, then those. The same value always gives the
/// same id, and two values that differ only past the cut still give different ids.
pub fn bounded_id(value: &str, max_bytes: usize) -> String {
    if value.len() <= max_bytes {
        return value.to_string();
    }
    let suffix = hash_suffix(value);
    let prefix = cut(value, max_bytes.saturating_sub(suffix.len()));
    format!("{prefix}{suffix}")
}

/// What ends an id cut to fit: `~` and the first 16 hex digits of `value`'s SHA-256, so that
/// two values that differ only past the cut still give different ids (17 characters).
pub fn hash_suffix(value: &str) -> String {
    let digest = hex::encode(Sha256::digest(value.as_bytes()));
    format!("~{}", &digest[..16])
}

/// The AMQP message id of result `seq` of `order_id`: `<order_id>:<seq>`, with the order id
/// cut by [`bounded_id`] when the whole would not fit in a short string.
pub fn result_message_id(order_id: &str, seq: i64) -> String {
    let seq = format!(":{seq}");
    format!("{}{seq}", bounded_id(order_id, SHORT_STRING_MAX_BYTES - seq.len()))
}

/// The longest prefix of `value` with at most `max_bytes` bytes that ends on a character.
pub fn cut(value: &str, max_bytes: usize) -> &str {
    if value.len() <= max_bytes {
        return value;
    }
    let mut end = max_bytes;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_multibyte_id_is_cut_on_a_character_and_stays_unique() {
        let emoji = "😀".repeat(64);
        let other = format!("{}😃", "😀".repeat(63));
        let id = result_message_id(&emoji, 12);
        assert!(id.len() <= SHORT_STRING_MAX_BYTES, "{} bytes", id.len());
        assert!(id.ends_with(":12"));
        assert_eq!(id, result_message_id(&emoji, 12), "the same order gives the same id");
        assert_ne!(id, result_message_id(&other, 12), "another order gives another id");
        assert_ne!(id, result_message_id(&emoji, 13));
        assert_eq!(result_message_id("TB-1", 3), "TB-1:3", "short ids are kept as they are");
    }

    #[test]
    fn bounded_properties_fit_amqp_and_keep_the_gateway_headers() {
        let mut headers = BTreeMap::new();
        headers.insert("k".repeat(300), "v".to_string());
        for index in 0..20 {
            headers.insert(format!("a-{index}"), "ư".repeat(5_000));
        }
        let properties = StoredProperties {
            content_type: Some("t".repeat(300)),
            message_id: Some("m".repeat(255)),
            correlation_id: Some("ñ".repeat(200)),
            headers,
        }
        .with_dead_letter("invalid", &"d".repeat(100_000));
        let bounded = properties.bounded();
        assert_eq!(bounded.message_id, properties.message_id, "255 bytes fit");
        assert!(bounded.correlation_id.as_ref().is_some_and(|c| c.len() <= 255));
        assert_eq!(bounded.content_type.as_ref().map(String::len), Some(255));
        assert!(bounded.headers.keys().all(|key| key.len() <= 255));
        assert!(bounded
            .headers
            .values()
            .all(|value| value.len() <= HEADER_VALUE_MAX_BYTES));
        let total: usize = bounded.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= HEADERS_MAX_BYTES);
        assert_eq!(
            bounded.headers.get("x-gateway-reason").map(String::as_str),
            Some("invalid")
        );
        assert!(bounded.headers.contains_key("x-gateway-detail"));
        assert_eq!(bounded.bounded(), bounded, "bounding twice changes nothing");
    }
}
