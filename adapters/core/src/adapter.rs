//! The `PayoutAdapter` trait: what the gateway asks of every channel, and what a channel answers.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{Beneficiary, Channel, Destination, PaymentId};
use crate::money::Vnd;

/// One payout as the gateway hands it to an adapter; every field is already validated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PayoutRequest {
    /// Deterministic per idempotency key; sent to the provider as its idempotency key, so a
    /// retry or a resubmission after an inquiry can never create a second payout.
    pub payment_id: PaymentId,
    /// Upstream's order id, for the provider's reference fields and reconciliation.
    pub order_id: String,
    pub amount: Vnd,
    pub beneficiary: Beneficiary,
    pub destination: Destination,
    /// The memo as upstream wrote it (with diacritics); adapters make it provider-safe with
    /// [`crate::names::provider_memo`].
    pub memo: String,
}

/// What a provider says about a payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProviderStatus {
    /// Accepted and not final yet (or any provider status we do not know to be final).
    Pending { provider_ref: Option<String> },
    /// The money reached the beneficiary's account.
    Succeeded { provider_ref: Option<String> },
    /// The provider finally refused or reversed the payout; nothing was credited.
    Failed { code: String, reason: String },
    /// The provider has no record of this payment id: it never received the request.
    NotFound,
}

/// Why a provider call did not give an answer, classified for the dispatcher.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The provider refused the request and will refuse it again (bad account, limit, …).
    /// Nothing was or will be paid.
    #[error("{code}: {message}")]
    Permanent { code: String, message: String },
    /// The request failed in a way that is worth retrying with the same idempotency key
    /// (connection refused, 408, 429, 5xx other than 501).
    #[error("{code}: {message}")]
    Transient {
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request may have reached the provider but no answer came back (timeout after
    /// send, connection reset, unreadable answer). Only a status inquiry can tell.
    #[error("outcome unknown: {message}")]
    UnknownOutcome { message: String },
}

impl AdapterError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Permanent {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Transient {
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unknown(message: impl Into<String>) -> Self {
        Self::UnknownOutcome {
            message: message.into(),
        }
    }
}

// Transport errors and HTTP statuses are classified in one place for every provider:
// `provider-http` (`TransportFailure::classify`, `ProviderResponse::status_error`).

/// A verified, parsed provider callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackEvent {
    /// The provider's id for this delivery, used to ignore replays.
    pub event_id: String,
    /// Our payment id, which the provider echoes back.
    pub payment_id: PaymentId,
    /// The amount the provider says it paid, in đồng, checked against our record. `None` when
    /// the callback carries no positive whole amount (absent, `null`, zero, negative,
    /// fractional, text): a final callback without an amount is a contradiction to the
    /// gateway, never a check it may skip.
    pub amount: Option<Vnd>,
    pub status: ProviderStatus,
}

/// Why a callback was refused. Every variant leaves the payment untouched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback carries no signature")]
    MissingSignature,
    #[error("the callback signature does not match")]
    BadSignature,
    #[error("the callback timestamp is outside the accepted window")]
    StaleTimestamp,
    #[error("the callback body is malformed: {0}")]
    Malformed(String),
}

impl CallbackError {
    /// Stable reason code for the HTTP answer and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            CallbackError::MissingSignature => "missing_signature",
            CallbackError::BadSignature => "bad_signature",
            CallbackError::StaleTimestamp => "stale_timestamp",
            CallbackError::Malformed(_) => "malformed_callback",
        }
    }
}

/// One payout provider. Implementations never sleep or retry: the dispatcher owns retries,
/// backoff and inquiries, persisted in the store, so a crash never loses track of a payout.
#[async_trait]
pub trait PayoutAdapter: Send + Sync {
    /// The channel this adapter pays through.
    fn channel(&self) -> Channel;

    /// The provider key that names this adapter in config and in the callback route
    /// (`bank_transfer`, `vnpost_account`, `viettel_money`, …).
    fn provider_key(&self) -> &str;

    /// The account holder's name as the provider knows it, checked against the list name
    /// before paying. `Ok(None)` when the channel has no name inquiry.
    async fn name_inquiry(&self, _request: &PayoutRequest) -> Result<Option<String>, AdapterError> {
        Ok(None)
    }

    /// Sends the payout once, with `payment_id` as the provider's idempotency key.
    async fn submit(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError>;

    /// Asks the provider what became of the payout with this payment id.
    async fn query_status(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError>;

    /// Verifies a callback's signature (and timestamp, where the style has one) on the raw
    /// bytes, in constant time, before anything parses it. `now_unix` is seconds since 1970.
    fn verify_callback(&self, headers: &http::HeaderMap, body: &[u8], now_unix: i64) -> Result<(), CallbackError>;

    /// Parses a callback that [`PayoutAdapter::verify_callback`] accepted.
    fn parse_callback(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<CallbackEvent, CallbackError>;

    /// `Some(wait)` while the provider's circuit breaker is open: for `wait`, every call would
    /// be refused without being sent, so the dispatcher leaves this provider's payments where
    /// they are instead of leasing them only to reschedule them. `None` (the default, and any
    /// provider without protection) means calls may go. Called every dispatcher tick: cheap.
    fn unavailable_for(&self) -> Option<Duration> {
        None
    }

    /// How the callback is acknowledged on success (HTTP status); wallets want 204.
    fn callback_ack_status(&self) -> u16 {
        200
    }

    /// Fields the provider reads in the body of a success acknowledgement (VNPost reads
    /// `result_code` `00`), sent beside the gateway's own `code` and `outcome`; none by
    /// default. Not sent with a 204.
    fn callback_ack_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}
