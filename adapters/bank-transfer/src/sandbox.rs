//! The sponsor-bank emulator: the same wire protocol as the real adapter speaks, on top of
//! the sandbox kit's ledger, directory, faults and callback sender.

pub mod emulation;
mod handlers;
pub mod statement;

use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{get, post};
use axum::Router;
use gateway_adapter::Vnd;
use sandbox_kit::{Callback, LedgerEntry, LedgerStatus, Sealed, SharedKit};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::client::{system_now, PROVIDER_KEY};
use crate::config::ConfigError;
use crate::signing::{self, ReceivedRequest, WebhookSecret};
use crate::transformers::{BankTransferStatus, BankWebhookData, BankWebhookEvent};

/// The largest single NAPAS 24/7 transfer the emulated bank accepts, in đồng.
pub const AMOUNT_LIMIT_VND: u64 = 499_999_999;
/// How far a request's `X-Timestamp` may be from the sandbox clock.
const REQUEST_TOLERANCE_SECS: i64 = 300;

/// What the emulated bank shares with the gateway it serves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSandboxConfig {
    /// Must equal the adapter's `request_secret`: requests are verified with it.
    pub request_secret: SecretString,
    /// `whsec_<base64>`: callbacks are signed with it; one of the adapter's `webhook_secrets`.
    pub webhook_secret: SecretString,
    /// Where callbacks go (the gateway's bank-transfer callback route); `None` sends none.
    pub callback_url: Option<String>,
}

/// The emulated sponsor bank. Cheap to clone; every clone shares the same state.
#[derive(Clone, Debug)]
pub struct BankSandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// The provider key it books and looks accounts up under (`bank_transfer`, or another bank's).
    pub(crate) key: String,
    request_secret: SecretString,
    webhook_secret: WebhookSecret,
    callback_url: Option<String>,
    pub(crate) kit: SharedKit,
}

impl BankSandbox {
    /// Builds the emulated sponsor bank under the key [`PROVIDER_KEY`].
    pub fn new(config: BankSandboxConfig, kit: SharedKit) -> Result<Self, ConfigError> {
        Self::for_provider(PROVIDER_KEY, config, kit)
    }

    /// Builds the emulated bank named `key`; refuses a webhook secret that is not
    /// `whsec_<base64>`.
    pub fn for_provider(key: &str, config: BankSandboxConfig, kit: SharedKit) -> Result<Self, ConfigError> {
        let webhook_secret =
            WebhookSecret::parse(config.webhook_secret.expose_secret()).ok_or_else(|| ConfigError::Malformed {
                key: "webhook_secret".to_string(),
                expected: "a whsec_<base64> secret",
            })?;
        kit.statements.register(key, Arc::new(statement::Camt053Writer));
        Ok(Self {
            inner: Arc::new(Inner {
                key: key.to_string(),
                request_secret: config.request_secret,
                webhook_secret,
                callback_url: config.callback_url,
                kit,
            }),
        })
    }

    /// The bank's API routes (`/v1/...`); the gateway nests them under `/<provider key>`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/name-inquiry", post(handlers::name_inquiry))
            .route("/v1/transfers", post(handlers::submit))
            .route("/v1/transfers/{client_reference}", get(handlers::transfer_status))
            .with_state(self.inner.clone())
    }
}

impl Inner {
    /// Checks `X-Client-Id`, `X-Timestamp` and `X-Signature` over the stripped path.
    pub(crate) fn authentic(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        match (
            header(signing::HEADER_CLIENT_ID),
            header(signing::HEADER_TIMESTAMP),
            header(signing::HEADER_SIGNATURE),
        ) {
            (Some(client_id), Some(timestamp), Some(signature_hex)) if !client_id.is_empty() => {
                let request = ReceivedRequest {
                    timestamp,
                    method: method.as_str(),
                    path: uri.path(),
                    body,
                    signature_hex,
                };
                let secret = self.request_secret.expose_secret().as_bytes();
                signing::verify_request(secret, &request, system_now(), REQUEST_TOLERANCE_SECS)
            }
            _ => false,
        }
    }

    /// Sends the `transfer.completed`/`transfer.failed` callback for `entry`. Its
    /// `webhook-id` is fixed now, for every attempt and a duplicate alike; each attempt is
    /// stamped (`webhook-timestamp`) and signed when it goes out, as a Standard Webhooks
    /// sender does, so a delayed callback is not stale on arrival.
    pub(crate) fn send_callback(&self, entry: &LedgerEntry) {
        let Some(url) = &self.callback_url else {
            return;
        };
        let Some(event) = callback_event_for(entry) else {
            return;
        };
        let Ok(body) = serde_json::to_vec(&event) else {
            return;
        };
        let id = format!("msg_{:032x}", rand::random::<u128>());
        let secret = self.webhook_secret.clone();
        let callback = Callback::new(url.clone(), move || {
            let timestamp = system_now();
            let signature = secret.sign(&id, timestamp, &body);
            Some(Sealed {
                headers: vec![
                    (signing::HEADER_WEBHOOK_ID.to_string(), id.clone()),
                    (signing::HEADER_WEBHOOK_TIMESTAMP.to_string(), timestamp.to_string()),
                    (signing::HEADER_WEBHOOK_SIGNATURE.to_string(), signature),
                ],
                body: body.clone(),
            })
        });
        self.kit.callbacks.send(callback, &self.kit.faults(&self.key));
    }
}

/// The callback body for a final `entry` (none while it is processing). It always carries
/// the booked amount, for failed transfers too, so the gateway never sees a final callback
/// without an amount from the sandbox.
fn callback_event_for(entry: &LedgerEntry) -> Option<BankWebhookEvent> {
    let (event_type, status, reason_code) = match &entry.status {
        LedgerStatus::Completed => ("transfer.completed", BankTransferStatus::Completed, None),
        LedgerStatus::Failed { code } => ("transfer.failed", BankTransferStatus::Failed, Some(code.clone())),
        LedgerStatus::Processing => return None,
    };
    Some(BankWebhookEvent {
        event_type: event_type.into(),
        data: BankWebhookData {
            transfer_id: entry.provider_ref.clone(),
            client_reference: entry.client_reference.clone(),
            end_to_end_id: entry.order_ref.clone(),
            amount: Vnd::new(entry.amount),
            status,
            reason_code,
        },
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn every_final_callback_carries_the_booked_amount_failed_ones_too() {
        let mut entry = LedgerEntry {
            provider: PROVIDER_KEY.into(),
            client_reference: "pay_1".into(),
            provider_ref: "FT1".into(),
            order_ref: "order-1".into(),
            amount: 2_789_000,
            account: "0011004455667".into(),
            status: LedgerStatus::Processing,
            booked_at: Utc::now(),
        };
        assert!(callback_event_for(&entry).is_none());
        for status in [
            LedgerStatus::Completed,
            LedgerStatus::Failed {
                code: "ACCOUNT_CLOSED".into(),
            },
        ] {
            entry.status = status;
            let event = callback_event_for(&entry).expect("a final entry has a callback");
            assert_eq!(event.data.amount, Vnd::new(2_789_000), "{:?}", entry.status);
        }
    }
}
