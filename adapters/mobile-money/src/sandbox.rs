//! The wallet-provider emulator: the same wire protocol as the adapter speaks, on top of the
//! sandbox kit's ledger, directory, faults and callback sender. One instance per provider;
//! several instances share one kit and keep separate ledgers (keyed by provider key).

pub mod emulation;
mod handlers;
pub mod statement;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use gateway_adapter::WalletProvider;
use sandbox_kit::{Callback, FaultState, LedgerEntry, LedgerStatus, Sealed, SharedKit};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{system_now_ms, PATH_INQUIRY, PATH_PAY, PATH_QUERY};
use crate::config::ConfigError;
use crate::signing::{self, Fields, SignatureProblem};
use crate::transformers::ResultCode;

/// The pilot's monthly cap per wallet (2021–2025), in đồng.
pub const DEFAULT_MONTHLY_LIMIT_VND: u64 = 10_000_000;

/// What the emulated provider shares with the gateway it serves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletSandboxConfig {
    /// The only partner code the provider serves; must equal the adapter's `partner_code`.
    pub partner_code: String,
    /// Must equal the adapter's `secret_key`: requests are verified and answers and IPNs
    /// signed with it.
    pub secret_key: SecretString,
    /// The most one wallet may receive per calendar month (Vietnam time), in đồng.
    #[serde(default = "default_monthly_limit_vnd")]
    pub monthly_limit_vnd: u64,
}

fn default_monthly_limit_vnd() -> u64 {
    DEFAULT_MONTHLY_LIMIT_VND
}

/// The emulated wallet provider. Cheap to clone; every clone shares the same state.
#[derive(Clone, Debug)]
pub struct WalletSandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) provider: WalletProvider,
    partner_code: String,
    secret_key: SecretString,
    pub(crate) monthly_limit_vnd: u64,
    pub(crate) kit: SharedKit,
    /// Held across the monthly-limit check and the booking, so two concurrent payouts to
    /// one wallet cannot both fit under the limit.
    pub(crate) booking: Mutex<()>,
}

impl WalletSandbox {
    /// Builds the emulator of `provider`; refuses an empty partner code or secret.
    pub fn new(provider: WalletProvider, config: WalletSandboxConfig, kit: SharedKit) -> Result<Self, ConfigError> {
        let key = provider.as_str();
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
        let writer = statement::WalletStatementWriter {
            partner_code: config.partner_code.clone(),
        };
        kit.statements.register(key, Arc::new(writer));
        Ok(Self {
            inner: Arc::new(Inner {
                provider,
                partner_code: config.partner_code,
                secret_key: config.secret_key,
                monthly_limit_vnd: config.monthly_limit_vnd,
                kit,
                booking: Mutex::new(()),
            }),
        })
    }

    /// The provider this emulator plays.
    pub fn provider(&self) -> WalletProvider {
        self.inner.provider
    }

    /// The provider's API routes (`/v2/...`); the gateway nests each provider under
    /// `/<provider key>`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH_INQUIRY, post(handlers::inquiry))
            .route(PATH_PAY, post(handlers::pay))
            .route(PATH_QUERY, post(handlers::query))
            .with_state(self.inner.clone())
    }
}

/// The Vietnam calendar month (UTC+7) of an instant, as (year, month).
fn vietnam_month(at: DateTime<Utc>) -> (i32, u32) {
    let local = at.with_timezone(&gateway_adapter::vietnam_time::offset());
    (local.year(), local.month())
}

impl Inner {
    /// The provider key: ledger, directory and faults are kept under it.
    pub(crate) fn key(&self) -> &'static str {
        self.provider.as_str()
    }

    pub(crate) fn faults(&self) -> Arc<FaultState> {
        self.kit.faults(self.key())
    }

    /// Parses and authenticates a request body: not a JSON object → 20, a bad or missing
    /// signature → 13, another partner code → 11.
    pub(crate) fn open_request(&self, body: &[u8]) -> Result<Fields, ResultCode> {
        let fields = signing::parse_fields(body).ok_or(ResultCode::BadFormat)?;
        signing::verify(self.secret_key.expose_secret().as_bytes(), &fields).map_err(|problem| match problem {
            SignatureProblem::Missing | SignatureProblem::Bad => ResultCode::AuthenticationFailed,
        })?;
        if fields.get("partnerCode").and_then(Value::as_str) != Some(self.partner_code.as_str()) {
            return Err(ResultCode::AccessDenied);
        }
        Ok(fields)
    }

    /// A signed JSON answer: `fields` plus `partnerCode`, `message` and `responseTime`.
    pub(crate) fn answer(&self, status: StatusCode, code: ResultCode, fields: Value) -> Response {
        let mut body = match fields {
            Value::Object(fields) => fields,
            _ => Fields::new(),
        };
        body.insert("partnerCode".into(), json!(self.partner_code));
        body.insert("resultCode".into(), json!(code.code()));
        body.entry("message").or_insert_with(|| json!(code.message()));
        body.insert("responseTime".into(), json!(system_now_ms()));
        let signed = signing::signed(self.secret_key.expose_secret().as_bytes(), body);
        (status, Json(Value::Object(signed))).into_response()
    }

    /// A refusal (HTTP 200 with the code, or 422 for 7000), echoing `requestId` if known.
    pub(crate) fn refusal(&self, code: ResultCode, request_id: Option<&str>) -> Response {
        let status = if code == ResultCode::DuplicateInFlight {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let fields = match request_id {
            Some(id) => json!({ "requestId": id }),
            None => json!({}),
        };
        self.answer(status, code, fields)
    }

    /// HTTP 503 (`resultCode` 98) or 429 (`Retry-After: 1`): refused before anything booked.
    pub(crate) fn unavailable(&self, rate_limited: bool) -> Response {
        if rate_limited {
            let mut answer = self.answer(StatusCode::TOO_MANY_REQUESTS, ResultCode::SystemBusy, json!({}));
            answer
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            answer
        } else {
            self.answer(StatusCode::SERVICE_UNAVAILABLE, ResultCode::SystemBusy, json!({}))
        }
    }

    /// What `wallet` has received (or has on its way) this Vietnam month at this provider.
    pub(crate) fn month_total(&self, wallet: &str, now: DateTime<Utc>) -> u64 {
        let month = vietnam_month(now);
        self.kit
            .ledger
            .account_total(self.key(), wallet, |booked_at| vietnam_month(booked_at) == month)
    }

    /// The final-state fields of a ledger entry, as a disbursement answer, a query answer
    /// and an IPN carry them: always with the booked `amount`, for failed entries too, so the
    /// gateway never sees a final answer without an amount from the sandbox.
    pub(crate) fn entry_fields(entry: &LedgerEntry) -> (ResultCode, Value) {
        let trans_id = entry
            .provider_ref
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(entry.provider_ref.clone()));
        let mut fields = json!({
            "requestId": entry.client_reference,
            "orderId": entry.order_ref,
            "amount": entry.amount,
            "transId": trans_id,
        });
        let code = match &entry.status {
            LedgerStatus::Processing => ResultCode::Processing,
            LedgerStatus::Completed => ResultCode::Done,
            LedgerStatus::Failed { code } => {
                if let (Some(object), Ok(fail_code)) = (fields.as_object_mut(), code.parse::<i64>()) {
                    object.insert("failCode".into(), json!(fail_code));
                }
                ResultCode::FailedAfterAcceptance
            }
        };
        (code, fields)
    }

    /// Sends the IPN for a final `entry` to `ipn_url`, once (no retries), lost, duplicated
    /// or delayed per the provider's faults. Each delivery is stamped (`responseTime`) and
    /// signed when it goes out, so a delayed IPN is not stale on arrival; its event (`transId`
    /// and `resultCode`) is the same for a duplicate.
    pub(crate) fn send_ipn(self: &Arc<Self>, entry: &LedgerEntry, ipn_url: &str) {
        let (code, fields) = Self::entry_fields(entry);
        if code == ResultCode::Processing {
            return;
        }
        let Value::Object(mut body) = fields else {
            return;
        };
        body.insert("partnerCode".into(), json!(self.partner_code));
        body.insert("resultCode".into(), json!(code.code()));
        body.insert("message".into(), json!(code.message()));
        let wallet = self.clone();
        let callback = Callback::new(ipn_url, move || {
            let mut body = body.clone();
            body.insert("responseTime".into(), json!(system_now_ms()));
            let signed = signing::signed(wallet.secret_key.expose_secret().as_bytes(), body);
            let bytes = serde_json::to_vec(&Value::Object(signed)).ok()?;
            Some(Sealed {
                headers: Vec::new(),
                body: bytes,
            })
        });
        self.kit.callbacks.send_once(callback, &self.faults());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_is_counted_in_vietnam_time() {
        let last_evening_utc = DateTime::parse_from_rfc3339("2026-01-31T18:00:00Z")
            .expect("a valid instant")
            .with_timezone(&Utc);
        // 01:00 on 1 February in Hanoi.
        assert_eq!(vietnam_month(last_evening_utc), (2026, 2));
        let earlier = DateTime::parse_from_rfc3339("2026-01-31T16:59:59Z")
            .expect("a valid instant")
            .with_timezone(&Utc);
        assert_eq!(vietnam_month(earlier), (2026, 1));
    }

    #[test]
    fn every_final_answer_carries_the_booked_amount_failed_ones_too() {
        let mut entry = LedgerEntry {
            provider: "viettel_money".into(),
            client_reference: "pay_1".into(),
            provider_ref: "2890001234567".into(),
            order_ref: "order-1".into(),
            amount: 500_000,
            account: "0981234567".into(),
            status: LedgerStatus::Completed,
            booked_at: Utc::now(),
        };
        let (code, fields) = Inner::entry_fields(&entry);
        assert_eq!((code, &fields["amount"]), (ResultCode::Done, &json!(500_000)));
        entry.status = LedgerStatus::Failed { code: "1002".into() };
        let (code, fields) = Inner::entry_fields(&entry);
        assert_eq!(code, ResultCode::FailedAfterAcceptance);
        assert_eq!(
            (&fields["amount"], &fields["failCode"]),
            (&json!(500_000), &json!(1002))
        );
    }

    #[test]
    fn the_config_defaults_the_monthly_limit_and_refuses_unknown_fields() {
        let config: WalletSandboxConfig =
            serde_json::from_str(r#"{"partner_code":"GW","secret_key":"k"}"#).expect("valid");
        assert_eq!(config.monthly_limit_vnd, 10_000_000);
        assert!(
            serde_json::from_str::<WalletSandboxConfig>(r#"{"partner_code":"GW","secret_key":"k","limit":1}"#).is_err()
        );
    }
}
