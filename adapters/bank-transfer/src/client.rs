//! `BankTransferAdapter`: the `PayoutAdapter` for a sponsor bank's REST API (NAPAS 24/7).
//! It describes each call (signed headers, JSON body) and classifies the bank's answer; the
//! shared `ProviderRunner` sends it. It never retries.

use async_trait::async_trait;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Channel, Destination, PayoutAdapter, PayoutRequest, ProviderStatus,
};
use provider_http::{reason, CallKind, Method, ProviderRequest, ProviderRunner};
use secrecy::ExposeSecret;

use crate::config::{BankTransferConfig, ConfigError};
use crate::signing::{self, WebhookSecret};
use crate::transformers::{
    callback_event, has_bank_code, map_error, map_status, wrong_destination, BankNameInquiryRequest,
    BankNameInquiryResponse, BankStatusResponse, BankTransferRequest, BankTransferResponse,
};

/// The provider key of the sponsor bank when a deployment has one bank: its section needs no
/// `type`. Another bank of this type is a section of its own with `type = "bank_transfer"`.
pub const PROVIDER_KEY: &str = "bank_transfer";

/// The bank-transfer channel, for one bank.
#[derive(Debug)]
pub struct BankTransferAdapter {
    /// The provider key (`bank_transfer`, or another bank's): metric label and callback route.
    key: String,
    config: BankTransferConfig,
    /// Sends what this adapter describes (client, timeouts, mutual TLS, metrics).
    runner: ProviderRunner,
    /// Parsed once from `config.webhook_secrets`.
    webhook_secrets: Vec<WebhookSecret>,
    /// Unix seconds for `X-Timestamp`; a field so tests can sign with a fixed time.
    now: fn() -> i64,
}

/// Seconds since 1970 by the system clock.
pub use gateway_adapter::unix_now as system_now;

impl BankTransferAdapter {
    /// Builds the adapter of the sponsor bank under the key [`PROVIDER_KEY`].
    pub fn new(config: BankTransferConfig) -> Result<Self, ConfigError> {
        Self::for_provider(PROVIDER_KEY, config)
    }

    /// Builds the adapter and its runner for the bank named `key`; refuses a config that
    /// could never work.
    pub fn for_provider(key: &str, config: BankTransferConfig) -> Result<Self, ConfigError> {
        if gateway_adapter::normalise_base_url(&config.base_url).is_none() {
            return Err(ConfigError::NotAnHttpUrl { key: "base_url" });
        }
        // Sent in a header on every call: a value no header can carry would be found only at
        // the first payment, which every payment would then fail on.
        if config.client_id.is_empty() || http::HeaderValue::from_str(&config.client_id).is_err() {
            return Err(ConfigError::Malformed {
                key: "client_id".to_string(),
                expected: "a client id that an HTTP header can carry: not empty, no control characters (it is sent as X-Client-Id)",
            });
        }
        // An unset template variable gives an empty value, which signs every call with an empty
        // key: every call refused 401, found at the first payment (VNPost and the wallets
        // already refused theirs).
        if config.request_secret.expose_secret().is_empty() {
            return Err(ConfigError::Empty {
                key: "request_secret",
                why: "every request would be signed with an empty key and refused",
            });
        }
        if config.webhook_secrets.is_empty() {
            return Err(ConfigError::Empty {
                key: "webhook_secrets",
                why: "callbacks could never be verified",
            });
        }
        let webhook_secrets = config
            .webhook_secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                WebhookSecret::parse(secret.expose_secret()).ok_or_else(|| ConfigError::Malformed {
                    key: format!("webhook_secrets[{index}]"),
                    expected: "a whsec_<base64> secret",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runner = ProviderRunner::new(key, &config.base_url, &config.http.client_settings(config.timeout_ms))?;
        Ok(Self {
            key: key.to_string(),
            config,
            runner,
            webhook_secrets,
            now: system_now,
        })
    }

    /// Replaces the clock that stamps `X-Timestamp` (tests use a fixed one).
    pub fn with_clock(mut self, now: fn() -> i64) -> Self {
        self.now = now;
        self
    }

    /// Describes one signed call: the signature covers timestamp, method, API path (without
    /// the base URL's prefix) and the exact body bytes.
    fn describe(&self, kind: CallKind, method: Method, path: &str, body: Vec<u8>) -> ProviderRequest {
        let timestamp = (self.now)();
        let signature = signing::sign_request(
            self.config.request_secret.expose_secret().as_bytes(),
            timestamp,
            method.as_str(),
            path,
            &body,
        );
        let request = ProviderRequest::new(kind, method, path)
            .header(signing::HEADER_CLIENT_ID, self.config.client_id.as_str())
            .header(signing::HEADER_TIMESTAMP, timestamp.to_string())
            .header(signing::HEADER_SIGNATURE, signature);
        if body.is_empty() {
            request
        } else {
            request.json(body)
        }
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AdapterError> {
    serde_json::to_vec(value).map_err(|_| {
        AdapterError::permanent(
            reason::INVALID_REQUEST,
            "The bank request could not be written as JSON.",
        )
    })
}

#[async_trait]
impl PayoutAdapter for BankTransferAdapter {
    fn channel(&self) -> Channel {
        Channel::BankTransfer
    }

    fn provider_key(&self) -> &str {
        &self.key
    }

    fn unavailable_for(&self) -> Option<std::time::Duration> {
        self.runner.unavailable_for()
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
        let call = self.describe(CallKind::NameInquiry, Method::POST, "/v1/name-inquiry", body);
        let answer = self.runner.send(call).await?;
        match answer.status {
            200 => serde_json::from_slice::<BankNameInquiryResponse>(&answer.body)
                .map(|found| Some(found.account_name))
                .map_err(|_| {
                    AdapterError::transient(
                        reason::PROVIDER_BAD_ANSWER,
                        "The bank's name inquiry answer is unreadable.",
                    )
                }),
            404 if has_bank_code(&answer, "ACCOUNT_NOT_FOUND") => Err(AdapterError::permanent(
                "account_not_found",
                format!(
                    "The bank knows no account {} at BIN {}.",
                    account_number.masked(),
                    bin.as_str()
                ),
            )),
            404 => Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                "The bank's name inquiry answered HTTP 404 without ACCOUNT_NOT_FOUND.",
            )),
            _ => Err(map_error(&answer)),
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
        let call = self
            .describe(CallKind::Submit, Method::POST, "/v1/transfers", body)
            .header(signing::HEADER_IDEMPOTENCY_KEY, key);
        let answer = self.runner.send(call).await?;
        if !answer.is_success() {
            return Err(map_error(&answer));
        }
        // The bank said yes but we cannot read what: only an inquiry can tell what happened.
        let accepted: BankTransferResponse = serde_json::from_slice(&answer.body)
            .map_err(|_| AdapterError::unknown("The bank accepted the transfer but its answer is unreadable."))?;
        if accepted.client_reference != key {
            return Err(AdapterError::unknown(
                "The bank answered the transfer with another client_reference.",
            ));
        }
        Ok(map_status(&self.key, &accepted.status, &accepted.transfer_id, None))
    }

    async fn query_status(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let path = format!("/v1/transfers/{}", request.payment_id.as_str());
        let call = self.describe(CallKind::StatusQuery, Method::GET, &path, Vec::new());
        let answer = self.runner.send(call).await?;
        match answer.status {
            200 => {
                let found: BankStatusResponse = serde_json::from_slice(&answer.body).map_err(|_| {
                    AdapterError::transient(reason::PROVIDER_BAD_ANSWER, "The bank's status answer is unreadable.")
                })?;
                // An answer about another transfer says nothing about this one (the amount
                // check below would not see it: allowances of one batch often have one amount).
                if found.client_reference != request.payment_id.as_str() {
                    return Err(AdapterError::transient(
                        reason::PROVIDER_BAD_ANSWER,
                        "The bank's status answer is about another client_reference.",
                    ));
                }
                let status = map_status(
                    &self.key,
                    &found.status,
                    &found.transfer_id,
                    found.reason_code.as_deref(),
                );
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
            // Only the bank's own "no such transfer" means it never received the payment (and
            // leads to a resubmit); a 404 from anything in front of it says nothing.
            404 if has_bank_code(&answer, "TRANSFER_NOT_FOUND") => Ok(ProviderStatus::NotFound),
            404 => Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                "The bank's status inquiry answered HTTP 404 without TRANSFER_NOT_FOUND.",
            )),
            _ => Err(map_error(&answer)),
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
        callback_event(&self.key, event_id, body)
    }
}
