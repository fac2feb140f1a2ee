//! `BankTransferAdapter`: the `PayoutAdapter` for a sponsor bank's REST API (NAPAS 24/7).
//! It calls the bank once per method and classifies every answer; it never retries.

use std::time::Duration;

use async_trait::async_trait;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Channel, Destination, PayoutAdapter, PayoutRequest, ProviderStatus,
};
use reqwest::Method;
use secrecy::ExposeSecret;

use crate::config::{BankTransferConfig, ConfigError};
use crate::signing::{self, WebhookSecret};
use crate::transformers::{
    callback_event, map_error, map_status, wrong_destination, BankNameInquiryRequest, BankNameInquiryResponse,
    BankStatusResponse, BankTransferRequest, BankTransferResponse,
};

/// The provider key of this adapter in config and in the callback route.
pub const PROVIDER_KEY: &str = "bank_transfer";

/// A bank answer: its HTTP status, `Retry-After` if any, and the raw body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// The bank-transfer channel. One `reqwest` client (rustls, `timeout_ms`) is shared by all calls.
#[derive(Debug)]
pub struct BankTransferAdapter {
    config: BankTransferConfig,
    /// `config.base_url` without a trailing slash.
    base_url: String,
    http: reqwest::Client,
    /// Parsed once from `config.webhook_secrets`.
    webhook_secrets: Vec<WebhookSecret>,
    /// Unix seconds for `X-Timestamp`; a field so tests can sign with a fixed time.
    now: fn() -> i64,
}

/// Seconds since 1970 by the system clock.
pub use gateway_adapter::unix_now as system_now;

impl BankTransferAdapter {
    /// Builds the adapter and its HTTP client; refuses a config that could never work.
    pub fn new(config: BankTransferConfig) -> Result<Self, ConfigError> {
        let base_url = gateway_adapter::normalise_base_url(&config.base_url).ok_or(ConfigError::BadBaseUrl)?;
        if config.webhook_secrets.is_empty() {
            return Err(ConfigError::NoWebhookSecret);
        }
        let webhook_secrets = config
            .webhook_secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                WebhookSecret::parse(secret.expose_secret()).ok_or(ConfigError::BadWebhookSecret { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()?;
        Ok(Self {
            config,
            base_url,
            http,
            webhook_secrets,
            now: system_now,
        })
    }

    /// Replaces the clock that stamps `X-Timestamp` (tests use a fixed one).
    pub fn with_clock(mut self, now: fn() -> i64) -> Self {
        self.now = now;
        self
    }

    /// Sends one signed request. `write` says whether a lost answer leaves the outcome
    /// unknown (a submit) or just means "try again" (a read).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
        write: bool,
    ) -> Result<Answer, AdapterError> {
        let timestamp = (self.now)();
        let signature = signing::sign_request(
            self.config.request_secret.expose_secret().as_bytes(),
            timestamp,
            method.as_str(),
            path,
            &body,
        );
        let mut builder = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .header(signing::HEADER_CLIENT_ID, &self.config.client_id)
            .header(signing::HEADER_TIMESTAMP, timestamp.to_string())
            .header(signing::HEADER_SIGNATURE, signature);
        if !body.is_empty() {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(key) = idempotency_key {
            builder = builder.header(signing::HEADER_IDEMPOTENCY_KEY, key);
        }
        let transport = |error: reqwest::Error| {
            let message = format!("The bank did not answer {method} {path}: {error}");
            if write {
                AdapterError::from_transport(!error.is_connect(), message)
            } else {
                AdapterError::transient("bank_unreachable", message)
            }
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AdapterError> {
    serde_json::to_vec(value)
        .map_err(|_| AdapterError::permanent("invalid_request", "The bank request could not be written as JSON."))
}

#[async_trait]
impl PayoutAdapter for BankTransferAdapter {
    fn channel(&self) -> Channel {
        Channel::BankTransfer
    }

    fn provider_key(&self) -> &str {
        PROVIDER_KEY
    }

    async fn name_inquiry(&self, request: &PayoutRequest) -> Result<Option<String>, AdapterError> {
        let Destination::BankAccount {
            bin, account_number, ..
        } = &request.destination
        else {
            return Err(wrong_destination());
        };
        let body = encode(&BankNameInquiryRequest {
            bin: bin.as_str().to_string(),
            account_number: account_number.as_str().to_string(),
        })?;
        let answer = self.call(Method::POST, "/v1/name-inquiry", body, None, false).await?;
        match answer.status {
            200 => serde_json::from_slice::<BankNameInquiryResponse>(&answer.body)
                .map(|found| Some(found.account_name))
                .map_err(|_| {
                    AdapterError::transient("bank_bad_answer", "The bank's name inquiry answer is unreadable.")
                }),
            404 => Err(AdapterError::permanent(
                "account_not_found",
                format!(
                    "The bank knows no account {} at BIN {}.",
                    account_number.masked(),
                    bin.as_str()
                ),
            )),
            status => Err(map_error(status, &answer.body, answer.retry_after)),
        }
    }

    async fn submit(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let transfer = BankTransferRequest::from_payout(request, self.config.memo_max_chars)?;
        tracing::debug!(
            payment_id = %request.payment_id,
            account = %gateway_adapter::mask::mask_tail(&transfer.beneficiary_account),
            amount = transfer.amount,
            "Submitting a bank transfer."
        );
        let body = encode(&transfer)?;
        let key = request.payment_id.as_str();
        let answer = self.call(Method::POST, "/v1/transfers", body, Some(key), true).await?;
        if !(200..300).contains(&answer.status) {
            return Err(map_error(answer.status, &answer.body, answer.retry_after));
        }
        // The bank said yes but we cannot read what: only an inquiry can tell what happened.
        let accepted: BankTransferResponse = serde_json::from_slice(&answer.body)
            .map_err(|_| AdapterError::unknown("The bank accepted the transfer but its answer is unreadable."))?;
        if accepted.client_reference != key {
            return Err(AdapterError::unknown(
                "The bank answered the transfer with another client_reference.",
            ));
        }
        Ok(map_status(&accepted.status, &accepted.transfer_id, None))
    }

    async fn query_status(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let path = format!("/v1/transfers/{}", request.payment_id.as_str());
        let answer = self.call(Method::GET, &path, Vec::new(), None, false).await?;
        match answer.status {
            200 => {
                let found: BankStatusResponse = serde_json::from_slice(&answer.body).map_err(|_| {
                    AdapterError::transient("bank_bad_answer", "The bank's status answer is unreadable.")
                })?;
                let status = map_status(&found.status, &found.transfer_id, found.reason_code.as_deref());
                // A record that contradicts ours is never taken as paid or failed, and neither
                // is a final status that does not say which amount it settled.
                match found.amount {
                    Some(amount) if amount != request.amount => Err(AdapterError::unknown(format!(
                        "The bank reports transfer {} for {} đồng, not the {} đồng we sent.",
                        found.transfer_id,
                        amount.dong(),
                        request.amount.dong()
                    ))),
                    None if !matches!(status, ProviderStatus::Pending { .. }) => Err(AdapterError::unknown(format!(
                        "The bank reports transfer {} as final without a positive amount.",
                        found.transfer_id
                    ))),
                    _ => Ok(status),
                }
            }
            404 => Ok(ProviderStatus::NotFound),
            status => Err(map_error(status, &answer.body, answer.retry_after)),
        }
    }

    fn verify_callback(&self, headers: &http::HeaderMap, body: &[u8], now_unix: i64) -> Result<(), CallbackError> {
        signing::verify_webhook(
            &self.webhook_secrets,
            headers,
            body,
            now_unix,
            self.config.webhook_tolerance_secs,
        )
    }

    fn parse_callback(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<CallbackEvent, CallbackError> {
        let event_id = headers
            .get(signing::HEADER_WEBHOOK_ID)
            .and_then(|value| value.to_str().ok())
            .ok_or(CallbackError::MissingSignature)?
            .to_string();
        callback_event(event_id, body)
    }
}
