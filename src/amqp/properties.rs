//! Conversions between AMQP message properties and the store's `StoredProperties`.

use lapin::types::{AMQPValue, FieldTable};
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

/// Builds persistent properties (delivery mode 2) from stored ones.
pub fn to_amqp(stored: &StoredProperties) -> BasicProperties {
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    if let Some(content_type) = &stored.content_type {
        properties = properties.with_content_type(content_type.as_str().into());
    }
    if let Some(message_id) = &stored.message_id {
        properties = properties.with_message_id(message_id.as_str().into());
    }
    if let Some(correlation_id) = &stored.correlation_id {
        properties = properties.with_correlation_id(correlation_id.as_str().into());
    }
    if !stored.headers.is_empty() {
        let mut table = FieldTable::default();
        for (key, value) in &stored.headers {
            table.insert(key.as_str().into(), AMQPValue::LongString(value.as_str().into()));
        }
        properties = properties.with_headers(table);
    }
    properties
}

fn header_text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(text) => text.to_string(),
        AMQPValue::ShortString(text) => text.to_string(),
        other => format!("{other:?}"),
    }
}
