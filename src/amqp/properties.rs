//! Conversions between AMQP message properties and the store's `StoredProperties`.

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;

use crate::store::StoredProperties;

/// Keeps what a replay needs: content type, ids and the string form of each header.
pub fn from_amqp(properties: &BasicProperties) -> StoredProperties {
    let headers = properties
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter(|(key, _)| key.as_str() != "x-death")
                .map(|(key, value)| (key.to_string(), header_text(value)))
                .collect()
        })
        .unwrap_or_default();
    StoredProperties {
        content_type: properties.content_type().as_ref().map(ToString::to_string),
        message_id: properties.message_id().as_ref().map(ToString::to_string),
        correlation_id: properties.correlation_id().as_ref().map(ToString::to_string),
        headers,
    }
}

/// Builds persistent properties (delivery mode 2) from stored ones. Never panics: the values
/// are bounded again here (the store bounds them when it writes a row, but a row written by
/// an older version may not be), and a value AMQP still cannot carry is left out.
pub fn to_amqp(stored: &StoredProperties) -> BasicProperties {
    let stored = stored.bounded();
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    if let Some(content_type) = stored.content_type.and_then(short) {
        properties = properties.with_content_type(content_type);
    }
    if let Some(message_id) = stored.message_id.and_then(short) {
        properties = properties.with_message_id(message_id);
    }
    if let Some(correlation_id) = stored.correlation_id.and_then(short) {
        properties = properties.with_correlation_id(correlation_id);
    }
    if !stored.headers.is_empty() {
        let mut table = FieldTable::default();
        for (key, value) in stored.headers {
            if let Some(key) = short(key) {
                table.insert(key, AMQPValue::LongString(value.into()));
            }
        }
        properties = properties.with_headers(table);
    }
    properties
}

/// An AMQP short string, or `None` for a value over 255 bytes.
fn short(value: String) -> Option<ShortString> {
    ShortString::try_new(value).ok()
}

fn header_text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(text) => text.to_string(),
        AMQPValue::ShortString(text) => text.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_too_long_for_amqp_are_cut_instead_of_panicking() {
        let mut stored = StoredProperties {
            content_type: Some("c".repeat(400)),
            message_id: Some(format!("{}:1", "😀".repeat(64))),
            correlation_id: Some("😀".repeat(64)),
            headers: Default::default(),
        };
        stored.headers.insert("h".repeat(300), "v".repeat(1_000_000));
        let properties = to_amqp(&stored);
        let length = |value: &Option<ShortString>| value.as_ref().map(|v| v.as_str().len());
        assert!(length(properties.message_id()).is_some_and(|n| n <= 255));
        assert!(length(properties.correlation_id()).is_some_and(|n| n <= 255));
        assert_eq!(length(properties.content_type()), Some(255));
        assert_eq!(properties.delivery_mode(), &Some(2));
    }
}
