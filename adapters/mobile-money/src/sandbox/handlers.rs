//! The emulated wallet provider's three endpoints: wallet inquiry, idempotent disbursement
//! with fault injection and the monthly limit, and status query by `requestId`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use gateway_adapter::ids::MAX_REQUEST_ID_CHARS;
use sandbox_kit::{BookOutcome, Fingerprint, LedgerEntry, LedgerStatus, SubmitRejection};
use serde_json::{json, Value};

use super::Inner;
use crate::signing::Fields;
use crate::transformers::{
    ResultCode, WalletInquiryRequest, WalletPayRequest, WalletQueryRequest, REQUEST_TYPE_DISBURSE,
};

type Wallet = State<Arc<Inner>>;

fn typed<T: serde::de::DeserializeOwned>(fields: Fields) -> Option<T> {
    serde_json::from_value(Value::Object(fields)).ok()
}

fn request_id(fields: &Fields) -> Option<String> {
    fields.get("requestId").and_then(Value::as_str).map(str::to_string)
}

/// A `requestId` within the documented limit: 1 to 32 characters.
fn fits(request_id: &str) -> bool {
    !request_id.is_empty() && request_id.len() <= MAX_REQUEST_ID_CHARS
}

pub(super) async fn inquiry(State(wallet): Wallet, body: Bytes) -> Response {
    tokio::time::sleep(wallet.faults().latency()).await;
    let fields = match wallet.open_request(&body) {
        Ok(fields) => fields,
        Err(code) => return wallet.refusal(code, None),
    };
    let id = request_id(&fields);
    let Some(inquiry) = typed::<WalletInquiryRequest>(fields).filter(|inquiry| fits(&inquiry.request_id)) else {
        return wallet.refusal(ResultCode::BadFormat, id.as_deref());
    };
    match wallet.kit.directory.lookup(wallet.key(), &inquiry.wallet_id) {
        None => wallet.refusal(ResultCode::WalletNotFound, Some(&inquiry.request_id)),
        Some(account) if account.closed => wallet.refusal(ResultCode::WalletLocked, Some(&inquiry.request_id)),
        Some(account) => wallet.answer(
            StatusCode::OK,
            ResultCode::Done,
            json!({
                "requestId": inquiry.request_id,
                "walletId": inquiry.wallet_id,
                "walletName": account.holder_name,
            }),
        ),
    }
}

pub(super) async fn pay(State(wallet): Wallet, body: Bytes) -> Response {
    let faults = wallet.faults();
    tokio::time::sleep(faults.latency()).await;
    let fields = match wallet.open_request(&body) {
        Ok(fields) => fields,
        Err(code) => return wallet.refusal(code, None),
    };
    match faults.take_submit_rejection() {
        Some(SubmitRejection::Unavailable) => return wallet.unavailable(false),
        Some(SubmitRejection::RateLimited) => return wallet.unavailable(true),
        None => {}
    }
    let id = request_id(&fields);
    let Some(pay) = typed::<WalletPayRequest>(fields) else {
        return wallet.refusal(ResultCode::BadFormat, id.as_deref());
    };
    if pay.request_type != REQUEST_TYPE_DISBURSE || pay.amount == 0 || !fits(&pay.request_id) {
        return wallet.refusal(ResultCode::BadFormat, Some(&pay.request_id));
    }
    if faults.take_duplicate_in_flight() {
        // As if an earlier request with this id were still being processed: nothing booked.
        return wallet.refusal(ResultCode::DuplicateInFlight, Some(&pay.request_id));
    }
    // A repeated requestId answers from the ledger before any check that could have changed.
    let fingerprint = fingerprint(&pay);
    if let Some(repeated) = wallet.kit.ledger.repeated(wallet.key(), &pay.request_id, &fingerprint) {
        return replay(&wallet, &pay.request_id, repeated);
    }
    match wallet.kit.directory.lookup(wallet.key(), &pay.wallet_id) {
        None => return wallet.refusal(ResultCode::WalletNotFound, Some(&pay.request_id)),
        Some(account) if account.closed => return wallet.refusal(ResultCode::WalletLocked, Some(&pay.request_id)),
        Some(_) => {}
    }
    let booked = {
        let _booking = wallet.booking.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Utc::now();
        let received = wallet.month_total(&pay.wallet_id, now);
        if received.saturating_add(pay.amount) > wallet.monthly_limit_vnd {
            return wallet.refusal(ResultCode::WalletMonthlyLimit, Some(&pay.request_id));
        }
        let entry = LedgerEntry {
            provider: wallet.key().into(),
            client_reference: pay.request_id.clone(),
            provider_ref: rand::random_range(1_000_000_000_000u64..10_000_000_000_000).to_string(),
            order_ref: pay.order_id.clone(),
            amount: pay.amount,
            account: pay.wallet_id.clone(),
            status: LedgerStatus::Processing,
            booked_at: now,
        };
        wallet.kit.ledger.book(entry, fingerprint)
    };
    let booked = match booked {
        BookOutcome::Booked(booked) => booked,
        repeated => return replay(&wallet, &pay.request_id, repeated),
    };
    let completion = wallet.clone();
    let complete_after = faults.complete_after();
    let reference = booked.client_reference.clone();
    let ipn_url = pay.ipn_url.clone();
    tokio::spawn(async move {
        tokio::time::sleep(complete_after).await;
        if let Some(done) = completion.kit.ledger.complete(completion.key(), &reference) {
            completion.send_ipn(&done, &ipn_url);
        }
    });
    if faults.take_timeout_after_booking() {
        // The credit is booked; the client will give up before this answer comes.
        tokio::time::sleep(faults.hang()).await;
    }
    entry_answer(&wallet, &booked)
}

/// The answer for a disbursement the ledger holds, with its `transId`: 1000 while
/// processing (the first answer), else its final result (0, or 1006 with `failCode`).
fn entry_answer(wallet: &Inner, entry: &LedgerEntry) -> Response {
    let (code, fields) = Inner::entry_fields(entry);
    wallet.answer(StatusCode::OK, code, fields)
}

/// What identifies a disbursement besides its `requestId`: who gets how much for which
/// order. Not `orderInfo` (cut to the client's configurable `memo_max_chars`), `ipnUrl` (the
/// client's configuration), `lang`, nor `signature`, which a client's retry of the same
/// disbursement may change.
fn fingerprint(pay: &WalletPayRequest) -> Fingerprint {
    Fingerprint::new()
        .with("amount", pay.amount.to_string())
        .with("walletId", &pay.wallet_id)
        .with("orderId", &pay.order_id)
        .with("beneficiaryName", &pay.beneficiary_name)
}

/// Answers a repeated `requestId`: 40 for other data, 7000 (HTTP 422) while the first is
/// processing, the final answer once it is done.
fn replay(wallet: &Inner, request_id: &str, repeated: BookOutcome) -> Response {
    match repeated {
        BookOutcome::Conflict { .. } => wallet.refusal(ResultCode::DuplicateRequestId, Some(request_id)),
        BookOutcome::Booked(existing) | BookOutcome::Existing(existing) => match existing.status {
            LedgerStatus::Processing => wallet.refusal(ResultCode::DuplicateInFlight, Some(request_id)),
            LedgerStatus::Completed | LedgerStatus::Failed { .. } => entry_answer(wallet, &existing),
        },
    }
}

pub(super) async fn query(State(wallet): Wallet, body: Bytes) -> Response {
    tokio::time::sleep(wallet.faults().latency()).await;
    let fields = match wallet.open_request(&body) {
        Ok(fields) => fields,
        Err(code) => return wallet.refusal(code, None),
    };
    let id = request_id(&fields);
    let Some(query) = typed::<WalletQueryRequest>(fields).filter(|query| fits(&query.request_id)) else {
        return wallet.refusal(ResultCode::BadFormat, id.as_deref());
    };
    match wallet.kit.ledger.get(wallet.key(), &query.request_id) {
        None => wallet.refusal(ResultCode::RequestNotFound, Some(&query.request_id)),
        Some(entry) => entry_answer(&wallet, &entry),
    }
}
