//! The Post Office emulator: the same wire protocol as the real adapter speaks, on top of
//! the sandbox kit's ledger, directory, faults and callback sender.

pub mod emulation;
mod handlers;
pub mod statement;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use gateway_adapter::Vnd;
use sandbox_kit::{Callback, LedgerEntry, LedgerStatus, Sealed, SharedKit};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{system_now, PATH_INQUIRY, PATH_PAYOUTS, PATH_QUERY, PROVIDER_KEY};
use crate::config::ConfigError;
use crate::signing::{self, Signed};
use crate::transformers::{VnpostCallback, VnpostResultCode};

/// The largest single payout the emulated Post Office credits to an account, in đồng.
pub const AMOUNT_LIMIT_VND: u64 = 100_000_000;
/// How far a request's `timestamp` may be from the sandbox clock.
const REQUEST_TOLERANCE_SECS: i64 = 300;

/// Whether a request must carry a fresh signed `timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Reads (inquiry, query): a `timestamp` within the tolerance, so a captured read cannot
    /// be replayed later.
    Required,
    /// Payouts carry no timestamp, so every attempt of one payout is byte-identical; a replay
    /// cannot pay twice because `request_id` is the idempotency key.
    NotChecked,
}

/// A request the Post Office refuses before reading it as a payout: `20` or `21`.
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    pub(crate) code: VnpostResultCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: VnpostResultCode::InvalidRequest,
            message: message.into(),
        }
    }
}

/// What the emulated Post Office shares with the gateway it serves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnpostSandboxConfig {
    /// Must equal the adapter's `secret`: requests are verified, and answers and callbacks
    /// signed, with it.
    pub secret: SecretString,
    /// Where callbacks go (the gateway's VNPost-account callback route); `None` sends none.
    pub callback_url: Option<String>,
}

/// The emulated Post Office. Cheap to clone; every clone shares the same state.
#[derive(Clone, Debug)]
pub struct VnpostSandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    secret: SecretString,
    callback_url: Option<String>,
    pub(crate) kit: SharedKit,
}

impl VnpostSandbox {
    /// Builds the emulator; refuses an empty secret.
    pub fn new(config: VnpostSandboxConfig, kit: SharedKit) -> Result<Self, ConfigError> {
        if config.secret.expose_secret().is_empty() {
            return Err(ConfigError::Empty {
                key: "secret",
                why: "nothing could be signed or verified",
            });
        }
        kit.statements
            .register(PROVIDER_KEY, Arc::new(statement::VnpostStatementWriter));
        Ok(Self {
            inner: Arc::new(Inner {
                secret: config.secret,
                callback_url: config.callback_url,
                kit,
            }),
        })
    }

    /// The Post Office's API routes (`/api/v1/...`); the gateway nests them under `/vnpost_account`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH_INQUIRY, post(handlers::inquiry))
            .route(PATH_PAYOUTS, post(handlers::payout))
            .route(PATH_QUERY, post(handlers::query))
            .with_state(self.inner.clone())
    }
}

impl Inner {
    fn secret(&self) -> &[u8] {
        self.secret.expose_secret().as_bytes()
    }

    /// Checks a request body: a JSON object with a non-empty `partner_id`, a signature that
    /// verifies and, where `freshness` requires it, a `timestamp` within the tolerance.
    /// Returns its fields, or the `21`/`20` refusal to answer instead.
    pub(crate) fn authentic(&self, body: &[u8], freshness: Freshness) -> Result<Map<String, Value>, Refusal> {
        let Some(fields) = signing::parse_fields(body) else {
            return Err(Refusal::invalid("The body is not a JSON object."));
        };
        let partner = fields.get("partner_id").and_then(Value::as_str);
        if partner.is_none_or(str::is_empty) {
            return Err(Refusal::invalid("partner_id is missing."));
        }
        if signing::verify_fields(self.secret(), &fields).is_err() {
            return Err(Refusal {
                code: VnpostResultCode::BadSignature,
                message: "The request signature does not verify.".into(),
            });
        }
        let fresh = signing::timestamp_of(&fields)
            .is_some_and(|sent| system_now().abs_diff(sent) <= REQUEST_TOLERANCE_SECS.unsigned_abs());
        if freshness == Freshness::Required && !fresh {
            return Err(Refusal {
                code: VnpostResultCode::BadSignature,
                message: "The request timestamp is missing or outside the accepted window.".into(),
            });
        }
        Ok(fields)
    }

    /// The signed answer for a refusal.
    pub(crate) fn refuse(&self, refusal: Refusal) -> Response {
        self.code_answer(refusal.code, &refusal.message)
    }

    /// A signed HTTP 200 answer.
    pub(crate) fn signed<T: Signed>(&self, message: T) -> Response {
        match signing::seal(self.secret(), message) {
            Ok(sealed) => Json(sealed).into_response(),
            Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }

    /// A signed `{result_code, message}` answer.
    pub(crate) fn code_answer(&self, code: VnpostResultCode, message: &str) -> Response {
        self.signed(crate::transformers::VnpostPayoutResponse {
            result_code: code,
            message: Some(message.into()),
            request_id: None,
            transaction_id: None,
            signature: String::new(),
        })
    }

    /// Sends the `00`/`03` callback for a final `entry`. Its `event_id` is fixed now, for
    /// every attempt and a duplicate alike; each attempt is stamped (`timestamp`) and signed
    /// when it goes out, so a delayed callback is not stale on arrival.
    pub(crate) fn send_callback(self: &Arc<Self>, entry: &LedgerEntry) {
        let Some(url) = &self.callback_url else {
            return;
        };
        if entry.status == LedgerStatus::Processing {
            return;
        }
        let event_id = format!("EV{:024X}", rand::random::<u128>() >> 32);
        let (office, entry) = (self.clone(), entry.clone());
        let callback = Callback::new(url.clone(), move || {
            let callback = callback_for(&entry, &event_id, system_now())?;
            let sealed = signing::seal(office.secret(), callback).and_then(|c| serde_json::to_vec(&c));
            sealed.ok().map(|body| Sealed {
                headers: Vec::new(),
                body,
            })
        });
        self.kit.callbacks.send(callback, &self.kit.faults(PROVIDER_KEY));
    }
}

/// The unsigned callback `event_id` for a final `entry` (none while it is processing),
/// stamped `now`. It always carries the booked amount, for failed payouts too, so the gateway
/// never sees a final callback without an amount from the sandbox.
fn callback_for(entry: &LedgerEntry, event_id: &str, now: i64) -> Option<VnpostCallback> {
    let (result_code, fail_code) = match &entry.status {
        LedgerStatus::Completed => (VnpostResultCode::Done, None),
        LedgerStatus::Failed { code } => (VnpostResultCode::Failed, Some(code.clone())),
        LedgerStatus::Processing => return None,
    };
    Some(VnpostCallback {
        event_id: event_id.to_string(),
        request_id: entry.client_reference.clone(),
        order_ref: entry.order_ref.clone(),
        transaction_id: entry.provider_ref.clone(),
        amount: Vnd::new(entry.amount),
        result_code,
        fail_code,
        timestamp: signing::format_timestamp(now),
        signature: String::new(),
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
            provider_ref: "VNP1".into(),
            order_ref: "order-1".into(),
            amount: 500_000,
            account: "8800123456789".into(),
            status: LedgerStatus::Processing,
            booked_at: Utc::now(),
        };
        assert!(callback_for(&entry, "EV1", 0).is_none());
        for status in [LedgerStatus::Completed, LedgerStatus::Failed { code: "11".into() }] {
            entry.status = status;
            let callback = callback_for(&entry, "EV1", 0).expect("a final entry has a callback");
            assert_eq!(callback.amount, Vnd::new(500_000), "{:?}", entry.status);
        }
    }
}
