//! The AMQP properties of an incoming order, kept so a dead letter carries the original ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
}
