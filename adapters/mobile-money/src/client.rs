//! `MobileMoneyAdapter`: the `PayoutAdapter` for a MoMo-style wallet disbursement API. One
//! type serves Viettel Money, VNPT Money and MobiFone Money, one instance per provider. It
//! describes each call (a signed JSON body) and classifies every answer; the shared
//! `ProviderRunner` sends it. It never retries.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gateway_adapter::ids::derived_request_id;
use gateway_adapter::parse_error::json_problem;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Channel, Destination, Msisdn, PaymentId, PayoutAdapter, PayoutRequest,
    ProviderStatus, WalletProvider,
};
use provider_http::{reason, CallKind, ProviderRequest, ProviderResponse, ProviderRunner};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{is_http_url, ConfigError, MobileMoneyConfig};
use crate::signing::{self, Fields, SignatureProblem};
use crate::transformers::{
    callback_status, inquiry_error, query_outcome, submit_outcome, ResultCode, WalletInquiryRequest,
    WalletInquiryResponse, WalletIpn, WalletPayRequest, WalletPayResponse, WalletQueryRequest, WalletQueryResponse,
    LANG,
};

/// `POST` path of the wallet (name) inquiry.
pub const PATH_INQUIRY: &str = "/v2/wallet/inquiry";
/// `POST` path of a disbursement.
pub const PATH_PAY: &str = "/v2/disbursement/pay";
/// `POST` path of a disbursement status query.
pub const PATH_QUERY: &str = "/v2/disbursement/query";
/// Prefix of a wallet inquiry's own `requestId` (see [`derived_request_id`]).
pub const INQUIRY_ID_PREFIX: &str = "inq_";

/// Milliseconds since 1970 by the system clock (`responseTime` is in milliseconds).
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// The mobile-money channel for one wallet provider.
#[derive(Debug)]
pub struct MobileMoneyAdapter {
    provider: WalletProvider,
    config: MobileMoneyConfig,
    /// Sends what this adapter describes (client, timeouts, mutual TLS, metrics).
    runner: ProviderRunner,
}

impl MobileMoneyAdapter {
    /// Builds the adapter for `provider` and its runner; refuses a config that could
    /// never work.
    pub fn new(provider: WalletProvider, config: MobileMoneyConfig) -> Result<Self, ConfigError> {
        let key = provider.as_str();
        let base_url = config.base_url.trim_end_matches('/').to_string();
        if !is_http_url(&base_url) {
            return Err(ConfigError::NotAnHttpUrl { key: "base_url" });
        }
        if !is_http_url(&config.ipn_url) {
            return Err(ConfigError::NotAnHttpUrl { key: "ipn_url" });
        }
        if config.partner_code.trim().is_empty() {
            return Err(ConfigError::Empty {
                key: "partner_code",
                why: "the provider serves no partner without one",
            });
        }
        if config.secret_key.expose_secret().is_empty() {
            return Err(ConfigError::Empty {
                key: "secret_key",
                why: "nothing could be signed or verified",
            });
        }
        let runner = ProviderRunner::new(key, &base_url, &config.http.client_settings(config.timeout_ms))?;
        Ok(Self {
            provider,
            config,
            runner,
        })
    }

    /// The wallet provider this instance pays through.
    pub fn provider(&self) -> WalletProvider {
        self.provider
    }

    fn secret(&self) -> &[u8] {
        self.config.secret_key.expose_secret().as_bytes()
    }

    /// The phone number of a wallet at this provider; any other destination is refused.
    fn wallet<'a>(&self, request: &'a PayoutRequest) -> Result<&'a Msisdn, AdapterError> {
        match &request.destination {
            Destination::Wallet { provider, msisdn } if *provider == self.provider => Ok(msisdn),
            Destination::Wallet { provider, .. } => Err(AdapterError::permanent(
                reason::INVALID_REQUEST,
                format!(
                    "The {} adapter cannot pay a {} wallet.",
                    self.provider.as_str(),
                    provider.as_str()
                ),
            )),
            Destination::BankAccount { .. } | Destination::VnpostAccount { .. } => Err(AdapterError::permanent(
                reason::INVALID_REQUEST,
                format!("The {} adapter only pays wallets.", self.provider.as_str()),
            )),
        }
    }

    /// The signed JSON body of a request struct whose `signature` field is still empty.
    fn signed_body<T: serde::Serialize>(
        &self,
        request: &T,
        set_signature: impl FnOnce(String) -> T,
    ) -> Result<Vec<u8>, AdapterError> {
        let provider = self.provider.as_str();
        let bad = |_| {
            AdapterError::permanent(
                reason::INVALID_REQUEST,
                format!("The request to {provider} could not be signed."),
            )
        };
        let fields = signing::to_fields(request).map_err(bad)?;
        let signed = set_signature(signing::sign(self.secret(), &fields));
        serde_json::to_vec(&signed).map_err(bad)
    }

    /// Describes one signed JSON `POST` and has the runner send it.
    async fn post(&self, kind: CallKind, path: &str, body: Vec<u8>) -> Result<ProviderResponse, AdapterError> {
        self.runner.send(ProviderRequest::post_json(kind, path, body)).await
    }

    /// Classifies an answer that carries no verified `resultCode`: a 2xx or 422 should have
    /// had a signed body, so it is `unreadable`; every other status is classified like every
    /// provider's (401/403 `provider_auth_failed`, 3xx, 408, 429 and 5xx transient with
    /// `Retry-After` kept, the rest permanent).
    fn http_error(&self, answer: &ProviderResponse, unreadable: AdapterError) -> AdapterError {
        match answer.status {
            200..=299 | 422 => unreadable,
            status => answer.status_error(format!(
                "{} answered HTTP {status} without a signed result.",
                self.provider.as_str()
            )),
        }
    }

    /// Opens an answer: HTTP-level errors first, then the signature (over every field but
    /// `signature`), then our `partnerCode` if echoed, then the typed body. An answer that
    /// cannot be trusted is an unknown outcome for a disbursement and transient for a read
    /// (`provider_bad_signature` or `provider_bad_answer`).
    fn open<T: DeserializeOwned>(&self, answer: &ProviderResponse, kind: CallKind) -> Result<T, AdapterError> {
        let provider = self.provider.as_str();
        let problem = |code: &str, message: String| {
            if kind.moves_money() {
                AdapterError::unknown(message)
            } else {
                AdapterError::transient(code, message)
            }
        };
        if answer.status == 429 || answer.status >= 500 {
            return Err(self.http_error(answer, problem(reason::PROVIDER_BAD_ANSWER, String::new())));
        }
        let Some(fields) = signing::parse_fields(&answer.body) else {
            let unreadable = problem(
                reason::PROVIDER_BAD_ANSWER,
                format!("{provider} answered HTTP {} with an unreadable body.", answer.status),
            );
            return Err(self.http_error(answer, unreadable));
        };
        match signing::verify(self.secret(), &fields) {
            Ok(()) => {}
            // An unsigned body is no signed result: a 401 of an API gateway in front of the
            // provider (`{"error":"invalid token"}`) is classified by its status, as one
            // without a body is, and only a 2xx or 422 is a result that should have been signed.
            Err(SignatureProblem::Missing) => {
                let unsigned = problem(
                    reason::PROVIDER_BAD_SIGNATURE,
                    format!("{provider}'s answer carries no signature."),
                );
                return Err(self.http_error(answer, unsigned));
            }
            Err(SignatureProblem::Bad) => {
                return Err(problem(
                    reason::PROVIDER_BAD_SIGNATURE,
                    format!("{provider}'s answer signature does not verify."),
                ))
            }
        }
        if let Some(partner) = fields.get("partnerCode") {
            if partner.as_str() != Some(self.config.partner_code.as_str()) {
                return Err(problem(
                    reason::PROVIDER_BAD_ANSWER,
                    format!("{provider} answered for another partnerCode."),
                ));
            }
        }
        // Parsed again from the bytes for a line and column; the error says what was wrong
        // without quoting the provider's values, which may hold a phone number or a name.
        serde_json::from_slice(&answer.body).map_err(|error| {
            problem(
                reason::PROVIDER_BAD_ANSWER,
                format!("{provider}'s signed answer {}.", json_problem(&error)),
            )
        })
    }

    fn request_id_differs(echoed: Option<&str>, ours: &str) -> bool {
        echoed.is_some_and(|echoed| echoed != ours)
    }
}

#[async_trait]
impl PayoutAdapter for MobileMoneyAdapter {
    fn channel(&self) -> Channel {
        Channel::MobileMoney
    }

    fn provider_key(&self) -> &str {
        self.provider.as_str()
    }

    fn unavailable_for(&self) -> Option<std::time::Duration> {
        self.runner.unavailable_for()
    }

    async fn name_inquiry(&self, request: &PayoutRequest) -> Result<Option<String>, AdapterError> {
        let wallet = self.wallet(request)?;
        let inquiry = WalletInquiryRequest {
            partner_code: self.config.partner_code.clone(),
            request_id: derived_request_id(INQUIRY_ID_PREFIX, &request.payment_id),
            wallet_id: wallet.as_str().to_string(),
            lang: LANG.into(),
            signature: String::new(),
        };
        let body = self.signed_body(&inquiry, |signature| WalletInquiryRequest {
            signature,
            ..inquiry.clone()
        })?;
        let answer = self.post(CallKind::NameInquiry, PATH_INQUIRY, body).await?;
        let found: WalletInquiryResponse = self.open(&answer, CallKind::NameInquiry)?;
        let provider = self.provider.as_str();
        match ResultCode::from_code(found.result_code) {
            ResultCode::Done => {
                if Self::request_id_differs(found.wallet_id.as_deref(), wallet.as_str()) {
                    return Err(AdapterError::transient(
                        reason::PROVIDER_BAD_ANSWER,
                        format!("{provider} answered the inquiry for another wallet."),
                    ));
                }
                match found.wallet_name {
                    Some(name) if !name.trim().is_empty() => Ok(Some(name)),
                    _ => Err(AdapterError::transient(
                        reason::PROVIDER_BAD_ANSWER,
                        format!("{provider} found the wallet but sent no walletName."),
                    )),
                }
            }
            code => {
                let error = inquiry_error(code);
                tracing::debug!(wallet = %wallet.masked(), %provider, result_code = code.code(), "A wallet inquiry was refused.");
                Err(error)
            }
        }
    }

    async fn submit(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let wallet = self.wallet(request)?;
        let pay = WalletPayRequest::from_payout(
            request,
            wallet,
            &self.config.partner_code,
            &self.config.ipn_url,
            self.config.memo_max_chars,
        );
        tracing::debug!(
            payment_id = %request.payment_id,
            provider = self.provider.as_str(),
            wallet = %wallet.masked(),
            amount = pay.amount,
            "Submitting a wallet disbursement."
        );
        let body = self.signed_body(&pay, |signature| WalletPayRequest {
            signature,
            ..pay.clone()
        })?;
        let answer = self.post(CallKind::Submit, PATH_PAY, body).await?;
        let reply: WalletPayResponse = self.open(&answer, CallKind::Submit)?;
        let provider = self.provider.as_str();
        let ours = request.payment_id.as_str();
        if Self::request_id_differs(reply.request_id.as_deref(), ours) {
            return Err(AdapterError::unknown(format!(
                "{provider} answered the disbursement with another requestId."
            )));
        }
        let code = ResultCode::from_code(reply.result_code);
        if matches!(code, ResultCode::Done | ResultCode::Processing) {
            // A "yes" is only believed when it is a 2xx about exactly this payout.
            let exact = (200..300).contains(&answer.status)
                && reply.request_id.as_deref() == Some(ours)
                && reply.amount == Some(request.amount.dong());
            if !exact {
                return Err(AdapterError::unknown(format!(
                    "{provider} answered resultCode {} with HTTP {}, another requestId or another amount.",
                    code.code(),
                    answer.status
                )));
            }
        }
        submit_outcome(self.provider, code, reply.trans_id)
    }

    async fn query_status(&self, request: &PayoutRequest) -> Result<ProviderStatus, AdapterError> {
        let query = WalletQueryRequest {
            partner_code: self.config.partner_code.clone(),
            request_id: request.payment_id.as_str().to_string(),
            lang: LANG.into(),
            signature: String::new(),
        };
        let body = self.signed_body(&query, |signature| WalletQueryRequest {
            signature,
            ..query.clone()
        })?;
        let answer = self.post(CallKind::StatusQuery, PATH_QUERY, body).await?;
        let found: WalletQueryResponse = self.open(&answer, CallKind::StatusQuery)?;
        let provider = self.provider.as_str();
        if Self::request_id_differs(found.request_id.as_deref(), request.payment_id.as_str()) {
            return Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                format!("{provider} answered the query with another requestId."),
            ));
        }
        let code = ResultCode::from_code(found.result_code);
        // A record that contradicts ours is never taken as paid or failed, and neither is a
        // final code that does not say which amount it settled.
        let final_code = matches!(code, ResultCode::Done | ResultCode::FailedAfterAcceptance);
        // A final answer must name this payout: one without our requestId could be another
        // payout of the same amount (the check above only catches another requestId).
        if final_code && found.request_id.as_deref() != Some(request.payment_id.as_str()) {
            return Err(AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                format!("{provider} answered the query with a final code but no requestId."),
            ));
        }
        if final_code && found.amount != Some(request.amount) {
            let transaction = found.trans_id.as_deref().unwrap_or("without id");
            return Err(AdapterError::unknown(match found.amount {
                Some(amount) => format!(
                    "{provider} reports transaction {transaction} for {} đồng, not the {} đồng we sent.",
                    amount.dong(),
                    request.amount.dong()
                ),
                None => format!("{provider} reports transaction {transaction} as final without a positive amount."),
            }));
        }
        query_outcome(self.provider, code, found.fail_code, found.trans_id)
    }

    fn verify_callback(&self, _headers: &http::HeaderMap, body: &[u8], now_unix: i64) -> Result<(), CallbackError> {
        let fields = ipn_fields(body)?;
        signing::verify(self.secret(), &fields).map_err(|problem| match problem {
            SignatureProblem::Missing => CallbackError::MissingSignature,
            SignatureProblem::Bad => CallbackError::BadSignature,
        })?;
        // Signed by the provider with our key, but for another partner: not ours to take.
        if fields.get("partnerCode").and_then(Value::as_str) != Some(self.config.partner_code.as_str()) {
            return Err(CallbackError::BadSignature);
        }
        // Signed the same as a number or as a string of its digits, so taken as either.
        let response_time = fields
            .get("responseTime")
            .and_then(gateway_adapter::lenient::whole_number)
            .ok_or_else(|| CallbackError::Malformed("responseTime is not unix milliseconds".into()))?;
        let tolerance_ms = self.config.callback_tolerance_secs.saturating_mul(1_000);
        if now_unix.saturating_mul(1_000).abs_diff(response_time) > tolerance_ms.unsigned_abs() {
            return Err(CallbackError::StaleTimestamp);
        }
        Ok(())
    }

    fn parse_callback(&self, _headers: &http::HeaderMap, body: &[u8]) -> Result<CallbackEvent, CallbackError> {
        let ipn: WalletIpn = parse_ipn(body)?;
        let trans_id = ipn
            .trans_id
            .ok_or_else(|| CallbackError::Malformed("the IPN carries no transId".into()))?;
        Ok(CallbackEvent {
            event_id: format!("{trans_id}:{}", ipn.result_code),
            payment_id: PaymentId::from_stored(ipn.request_id),
            amount: ipn.amount,
            status: callback_status(
                self.provider,
                ResultCode::from_code(ipn.result_code),
                ipn.fail_code,
                Some(trans_id),
            ),
        })
    }

    /// Wallet providers want `204 No Content` within 15 s.
    fn callback_ack_status(&self) -> u16 {
        204
    }
}

/// An IPN body as a generic JSON object; nothing is interpreted before the signature checks.
fn ipn_fields(body: &[u8]) -> Result<Fields, CallbackError> {
    signing::parse_fields(body).ok_or_else(|| CallbackError::Malformed("the IPN body is not a JSON object".into()))
}

/// Parses an IPN that `verify_callback` accepted; the error says what was wrong without
/// quoting the provider's values.
fn parse_ipn<T: DeserializeOwned>(body: &[u8]) -> Result<T, CallbackError> {
    serde_json::from_slice(body)
        .map_err(|error| CallbackError::Malformed(format!("the IPN body {}", json_problem(&error))))
}
