//! `VnpostAccountAdapter`: the `PayoutAdapter` for the Post Office's signed-JSON payout API.
//! It describes each call (a signed JSON body), verifies every answer's signature and
//! classifies it; the shared `ProviderRunner` sends it. It never retries.

use async_trait::async_trait;
use gateway_adapter::mask::mask_tail;
use gateway_adapter::parse_error::json_problem;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Channel, PayoutAdapter, PayoutRequest, ProviderStatus,
};
use provider_http::{reason, CallKind, ProviderRequest, ProviderRunner};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, VnpostAccountConfig};
use crate::signing::{self, SignatureProblem, Signed};
use crate::transformers::{
    callback_event, map_inquiry_answer, map_payout_answer, map_query_answer, vnpost_account, VnpostInquiryRequest,
    VnpostInquiryResponse, VnpostPayoutRequest, VnpostPayoutResponse, VnpostQueryRequest, VnpostQueryResponse,
    VnpostResultCode,
};

/// The provider key of this adapter in config and in the callback route.
pub const PROVIDER_KEY: &str = "vnpost_account";

/// Request paths, appended to `base_url`.
pub const PATH_INQUIRY: &str = "/api/v1/account/inquiry";
pub const PATH_PAYOUTS: &str = "/api/v1/payouts";
pub const PATH_QUERY: &str = "/api/v1/payouts/query";

/// The VNPost-account channel.
#[derive(Debug)]
pub struct VnpostAccountAdapter {
    config: VnpostAccountConfig,
    /// Sends what this adapter describes (client, timeouts, mutual TLS, metrics).
    runner: ProviderRunner,
    /// Unix seconds for the `timestamp` field; a field so tests can sign with a fixed time.
    now: fn() -> i64,
}

/// Seconds since 1970 by the system clock.
pub use gateway_adapter::unix_now as system_now;

impl VnpostAccountAdapter {
    /// Builds the adapter and its runner; refuses a config that could never work.
    pub fn new(config: VnpostAccountConfig) -> Result<Self, ConfigError> {
        if gateway_adapter::normalise_base_url(&config.base_url).is_none() {
            return Err(ConfigError::NotAnHttpUrl { key: "base_url" });
        }
        if config.partner_id.trim().is_empty() {
            return Err(ConfigError::Empty {
                key: "partner_id",
                why: "VNPost knows us by it",
            });
        }
        if config.secret.expose_secret().is_empty() {
            return Err(ConfigError::Empty {
                key: "secret",
                why: "nothing could be signed or verified",
            });
        }
        let runner = ProviderRunner::new(
            PROVIDER_KEY,
            &config.base_url,
            &config.http.client_settings(config.timeout_ms),
        )?;
        Ok(Self {
            config,
            runner,
            now: system_now,
        })
    }

    /// Replaces the clock that stamps `timestamp` (tests use a fixed one).
    pub fn with_clock(mut self, now: fn() -> i64) -> Self {
        self.now = now;
        self
    }

    fn secret(&self) -> &[u8] {
        self.config.secret.expose_secret().as_bytes()
    }

    fn timestamp(&self) -> String {
        signing::format_timestamp((self.now)())
    }

    /// Signs `message`, describes its POST to `path`, has the runner send it, and returns the
    /// answer parsed as `T` once its signature verified. Every failure is classified for
    /// `kind`. A non-200 answer's body is not read (it may quote personal data): its status is
    /// classified like every provider's.
    async fn call<M: Signed, T: DeserializeOwned>(
        &self,
        path: &str,
        message: M,
        kind: CallKind,
    ) -> Result<T, AdapterError> {
        let unwritable = |_| {
            AdapterError::permanent(
                reason::INVALID_REQUEST,
                format!("The request to VNPost {path} could not be signed."),
            )
        };
        let sealed = signing::seal(self.secret(), message).map_err(unwritable)?;
        let body = serde_json::to_vec(&sealed).map_err(unwritable)?;
        let answer = self.runner.send(ProviderRequest::post_json(kind, path, body)).await?;
        if answer.status != 200 {
            let message = format!("VNPost answered HTTP {}.", answer.status);
            // A payout answered with another success status, or with 409 (a duplicate of our
            // request id), may be held by VNPost: only an inquiry can tell, never a failure.
            if kind.moves_money() && (answer.is_success() || answer.status == 409) {
                return Err(AdapterError::unknown(format!(
                    "{message} It may hold the payout: a status inquiry must settle it."
                )));
            }
            return Err(answer.status_error(message));
        }
        verified_answer(self.secret(), path, &answer.body, kind)
    }
}

/// Verifies an HTTP 200 answer's signature on its generic fields, then parses it as `T`.
/// An answer that does not verify or parse is never believed: for a payout the outcome is
/// unknown, for a read it is worth asking again.
fn verified_answer<T: DeserializeOwned>(
    secret: &[u8],
    path: &str,
    body: &[u8],
    kind: CallKind,
) -> Result<T, AdapterError> {
    let untrusted = |code: &str, message: String| {
        if kind.moves_money() {
            AdapterError::unknown(message)
        } else {
            AdapterError::transient(code, message)
        }
    };
    let Some(fields) = signing::parse_fields(body) else {
        return Err(untrusted(
            reason::PROVIDER_BAD_ANSWER,
            format!("VNPost's answer to {path} is not a JSON object."),
        ));
    };
    if let Err(problem) = signing::verify_fields(secret, &fields) {
        let says_bad_signature = fields
            .get("result_code")
            .and_then(|code| code.as_str())
            .is_some_and(|code| code == VnpostResultCode::BadSignature.as_str());
        let what = match problem {
            SignatureProblem::Missing => "carries no signature",
            SignatureProblem::Bad => "has a signature that does not verify",
        };
        let mut message = format!("VNPost's answer to {path} {what}.");
        let code = if says_bad_signature {
            message.push_str(" It claims result_code 20 (our signature is bad): the shared secret is probably wrong.");
            reason::PROVIDER_AUTH_FAILED
        } else {
            reason::PROVIDER_BAD_SIGNATURE
        };
        return Err(untrusted(code, message));
    }
    // Parsed again from the bytes (not the field map) for a line and column; the error says
    // what was wrong without quoting VNPost's values, which may hold personal data.
    serde_json::from_slice(body).map_err(|error| {
        untrusted(
            reason::PROVIDER_BAD_ANSWER,
            format!("VNPost's signed answer to {path} {}.", json_problem(&error)),
        )
    })
}

#[async_trait]
impl PayoutAdapter for VnpostAccountAdapter {
    fn channel(&self) -> Channel {
        Channel::VnpostAccount
    }

    fn provider_key(&self) -> &str {
        PROVIDER_KEY
    }

    fn unavailable_for(&self) -> Option<std::time::Duration> {
        self.runner.unavailable_for()
    }

    async fn name_inquiry(&self, request: &PayoutRequest) -> Result<Option<String>, AdapterError> {
        let account_no = vnpost_account(&request.destination)?;
        let inquiry = VnpostInquiryRequest {
            partner_id: self.config.partner_id.clone(),
            account_no: account_no.to_string(),
            timestamp: self.timestamp(),
            signature: String::new(),
        };
        let answer: VnpostInquiryResponse = self.call(PATH_INQUIRY, inquiry, CallKind::NameInquiry).await?;
        if answer.result_code == VnpostResultCode::Done && answer.account_no.as_deref() != Some(account_no) {
            return Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                format!(
                    "VNPost answered the name inquiry for another account than {}.",
                    mask_tail(account_no)
                ),
            ));
        }
        map_inquiry_answer(answer)
    }

    async fn submit(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        // No timestamp: every attempt of this payment sends the same bytes.
        let payout = VnpostPayoutRequest::from_payout(request, &self.config.partner_id, self.config.memo_max_chars)?;
        tracing::debug!(
            payment_id = %request.payment_id,
            account = %mask_tail(&payout.account_no),
            amount = payout.amount,
            "Submitting a VNPost-account payout."
        );
        let answer: VnpostPayoutResponse = self.call(PATH_PAYOUTS, payout, CallKind::Submit).await?;
        // An answer about another request says nothing about ours.
        if let Some(echoed) = &answer.request_id {
            if echoed != request.payment_id.as_str() {
                return Err(AdapterError::unknown(
                    "VNPost answered the payout with another request_id.",
                ));
            }
        } else if matches!(
            answer.result_code,
            VnpostResultCode::Done | VnpostResultCode::Processing
        ) {
            return Err(AdapterError::unknown(
                "VNPost accepted the payout without echoing its request_id.",
            ));
        }
        map_payout_answer(&answer.result_code, answer.transaction_id.as_deref())
    }

    async fn query_status(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let query = VnpostQueryRequest {
            partner_id: self.config.partner_id.clone(),
            request_id: request.payment_id.as_str().to_string(),
            timestamp: self.timestamp(),
            signature: String::new(),
        };
        let answer: VnpostQueryResponse = self.call(PATH_QUERY, query, CallKind::StatusQuery).await?;
        let status = map_query_answer(
            &answer.result_code,
            answer.transaction_id.as_deref(),
            answer.fail_code.as_deref(),
        )?;
        let about_ours = answer.request_id.as_deref() == Some(request.payment_id.as_str());
        // "Not found" may leave out which request it was asked about; one that names another
        // request is not about ours (resubmitting on it spent an attempt on another's answer).
        if matches!(status, ProviderStatus::NotFound) && (about_ours || answer.request_id.is_none()) {
            return Ok(status);
        }
        if !about_ours {
            return Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                "VNPost answered the status query for another request_id.",
            ));
        }
        // A record that contradicts ours is never taken as paid or failed, and neither is a
        // final status that does not say which amount it settled.
        match answer.amount {
            Some(amount) if amount != request.amount => Err(AdapterError::unknown(format!(
                "VNPost reports request {} for {} đồng, not the {} đồng we sent.",
                request.payment_id,
                amount.dong(),
                request.amount.dong()
            ))),
            None if !matches!(status, ProviderStatus::Pending { .. }) => Err(AdapterError::unknown(
                "VNPost reports a final status without a positive amount.",
            )),
            _ => Ok(status),
        }
    }

    fn verify_callback(&self, _headers: &http::HeaderMap, body: &[u8], now_unix: i64) -> Result<(), CallbackError> {
        let fields = signing::parse_fields(body)
            .ok_or_else(|| CallbackError::Malformed("the body is not a JSON object".into()))?;
        signing::verify_fields(self.secret(), &fields).map_err(|problem| match problem {
            SignatureProblem::Missing => CallbackError::MissingSignature,
            SignatureProblem::Bad => CallbackError::BadSignature,
        })?;
        let timestamp = signing::timestamp_of(&fields)
            .ok_or_else(|| CallbackError::Malformed("timestamp is not a yyyyMMddHHmmss time".into()))?;
        if now_unix.abs_diff(timestamp) > self.config.callback_tolerance_secs.unsigned_abs() {
            return Err(CallbackError::StaleTimestamp);
        }
        Ok(())
    }

    /// VNPost takes a callback as received when the answer says `result_code` `00`; anything
    /// else and it delivers the callback again.
    fn callback_ack_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("result_code".to_string(), serde_json::Value::from("00"));
        fields
    }

    fn parse_callback(&self, _headers: &http::HeaderMap, body: &[u8]) -> Result<CallbackEvent, CallbackError> {
        callback_event(body)
    }
}
