//! The emulated Post Office's three endpoints: account inquiry, idempotent payout with
//! identity check and fault injection, and status query by request id.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use gateway_adapter::ids::MAX_REQUEST_ID_CHARS;
use gateway_adapter::names::normalise_name;
use gateway_adapter::Vnd;
use sandbox_kit::{BookOutcome, Fingerprint, LedgerEntry, LedgerStatus, SubmitRejection};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Freshness, Inner, Refusal, AMOUNT_LIMIT_VND};
use crate::client::PROVIDER_KEY;
use crate::transformers::{
    VnpostInquiryRequest, VnpostInquiryResponse, VnpostPayoutRequest, VnpostPayoutResponse, VnpostQueryRequest,
    VnpostQueryResponse, VnpostResultCode,
};

type PostOffice = State<Arc<Inner>>;

/// Checks the body and parses it as the typed request, or gives the `20`/`21` refusal.
fn authentic<T: DeserializeOwned>(office: &Inner, body: &[u8], freshness: Freshness, what: &str) -> Result<T, Refusal> {
    let fields = office.authentic(body, freshness)?;
    serde_json::from_value(Value::Object(fields)).map_err(|_| Refusal::invalid(format!("The body is not {what}.")))
}

/// An unsigned error answer for the faults (a real outage answers from a proxy, unsigned).
fn outage(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "result_code": "96", "message": message });
    (status, Json(body)).into_response()
}

/// The code a booked payout currently answers with: `01`, `00`, or `03`.
fn current_code(entry: &LedgerEntry) -> VnpostResultCode {
    match entry.status {
        LedgerStatus::Processing => VnpostResultCode::Processing,
        LedgerStatus::Completed => VnpostResultCode::Done,
        LedgerStatus::Failed { .. } => VnpostResultCode::Failed,
    }
}

fn payout_answer(
    office: &Inner,
    request_id: &str,
    code: VnpostResultCode,
    entry: Option<&LedgerEntry>,
    message: &str,
) -> Response {
    office.signed(VnpostPayoutResponse {
        result_code: code,
        message: Some(message.into()),
        request_id: Some(request_id.into()),
        transaction_id: entry.map(|entry| entry.provider_ref.clone()),
        signature: String::new(),
    })
}

pub(super) async fn inquiry(State(office): PostOffice, body: Bytes) -> Response {
    let inquiry: VnpostInquiryRequest = match authentic(&office, &body, Freshness::Required, "an account inquiry") {
        Ok(inquiry) => inquiry,
        Err(refusal) => return office.refuse(refusal),
    };
    tokio::time::sleep(office.kit.faults(PROVIDER_KEY).latency()).await;
    let found = office.kit.directory.lookup(PROVIDER_KEY, &inquiry.account_no);
    // A closed account still has a holder: the closure shows at payout time.
    let (result_code, holder_name, message) = match found {
        Some(account) => (VnpostResultCode::Done, Some(account.holder_name), "OK"),
        None => (VnpostResultCode::AccountNotFound, None, "No such account."),
    };
    office.signed(VnpostInquiryResponse {
        result_code,
        message: Some(message.into()),
        account_no: Some(inquiry.account_no),
        holder_name,
        signature: String::new(),
    })
}

pub(super) async fn payout(State(office): PostOffice, body: Bytes) -> Response {
    let payout: VnpostPayoutRequest = match authentic(&office, &body, Freshness::NotChecked, "a payout request") {
        Ok(payout) => payout,
        Err(refusal) => return office.refuse(refusal),
    };
    let faults = office.kit.faults(PROVIDER_KEY);
    tokio::time::sleep(faults.latency()).await;
    match faults.take_submit_rejection() {
        Some(SubmitRejection::Unavailable) => {
            return outage(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable; try again.")
        }
        Some(SubmitRejection::RateLimited) => {
            let mut answer = outage(StatusCode::TOO_MANY_REQUESTS, "Too many requests.");
            answer
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return answer;
        }
        None => {}
    }
    let id = payout.request_id.as_str();
    let citizen_id_ok = payout.citizen_id.len() == 12 && payout.citizen_id.bytes().all(|b| b.is_ascii_digit());
    if id.is_empty() || id.len() > MAX_REQUEST_ID_CHARS || payout.amount == 0 || !citizen_id_ok {
        let message = "request_id (1 to 32 characters), a positive amount and a 12-digit citizen_id are required.";
        return payout_answer(&office, id, VnpostResultCode::InvalidRequest, None, message);
    }
    // A repeated request_id answers from the ledger before any check that could have changed.
    let fingerprint = fingerprint(&payout);
    if let Some(repeated) = office.kit.ledger.repeated(PROVIDER_KEY, id, &fingerprint) {
        return replay(&office, id, repeated);
    }
    match office.kit.directory.lookup(PROVIDER_KEY, &payout.account_no) {
        None => {
            let message = "No such account.";
            return payout_answer(&office, id, VnpostResultCode::AccountNotFound, None, message);
        }
        Some(account) if account.closed => {
            let message = "The account is closed or locked.";
            return payout_answer(&office, id, VnpostResultCode::AccountClosed, None, message);
        }
        Some(account) if account.holder_name != normalise_name(&payout.beneficiary_name) => {
            let message = "The beneficiary does not match the account holder.";
            return payout_answer(&office, id, VnpostResultCode::IdentityMismatch, None, message);
        }
        Some(_) => {}
    }
    if payout.amount > AMOUNT_LIMIT_VND {
        let message = "The amount is over the account's limit.";
        return payout_answer(&office, id, VnpostResultCode::AmountOverLimit, None, message);
    }
    let entry = LedgerEntry {
        provider: PROVIDER_KEY.into(),
        client_reference: payout.request_id.clone(),
        provider_ref: format!("VNP{:016X}", rand::random::<u64>()),
        order_ref: payout.order_ref.clone(),
        amount: payout.amount,
        account: payout.account_no.clone(),
        status: LedgerStatus::Processing,
        booked_at: Utc::now(),
    };
    let booked = match office.kit.ledger.book(entry, fingerprint) {
        BookOutcome::Booked(booked) => booked,
        repeated => return replay(&office, id, repeated),
    };
    let completion_office = office.clone();
    let complete_after = faults.complete_after();
    let reference = booked.client_reference.clone();
    tokio::spawn(async move {
        tokio::time::sleep(complete_after).await;
        if let Some(done) = completion_office.kit.ledger.complete(PROVIDER_KEY, &reference) {
            completion_office.send_callback(&done);
        }
    });
    if faults.take_timeout_after_booking() {
        // The credit is booked; the client will give up before this answer comes.
        tokio::time::sleep(faults.hang()).await;
    }
    payout_answer(&office, id, current_code(&booked), Some(&booked), "Processing.")
}

/// What identifies a payout besides its `request_id`: who gets how much for which order.
/// Not `content` (cut to the client's configurable `memo_max_chars`), `partner_id` (checked by
/// the signature) nor `signature`, which a client's retry of the same payout may change.
fn fingerprint(payout: &VnpostPayoutRequest) -> Fingerprint {
    Fingerprint::new()
        .with("amount", payout.amount.to_string())
        .with("account_no", &payout.account_no)
        .with("order_ref", &payout.order_ref)
        .with("citizen_id", &payout.citizen_id)
        .with("beneficiary_name", &payout.beneficiary_name)
}

/// Answers a repeated `request_id`: the existing payout's current code for the same payout,
/// `02` for a request_id reused with other data (naming the field, never its value).
fn replay(office: &Inner, id: &str, repeated: BookOutcome) -> Response {
    match repeated {
        BookOutcome::Booked(existing) | BookOutcome::Existing(existing) => payout_answer(
            office,
            id,
            current_code(&existing),
            Some(&existing),
            "Existing request.",
        ),
        BookOutcome::Conflict { field, .. } => {
            let message = format!("This request_id was used with other data (another {field}).");
            payout_answer(office, id, VnpostResultCode::IdempotencyConflict, None, &message)
        }
    }
}

pub(super) async fn query(State(office): PostOffice, body: Bytes) -> Response {
    let query: VnpostQueryRequest = match authentic(&office, &body, Freshness::Required, "a status query") {
        Ok(query) => query,
        Err(refusal) => return office.refuse(refusal),
    };
    tokio::time::sleep(office.kit.faults(PROVIDER_KEY).latency()).await;
    let Some(entry) = office.kit.ledger.get(PROVIDER_KEY, &query.request_id) else {
        return office.signed(VnpostQueryResponse {
            result_code: VnpostResultCode::RequestNotFound,
            message: Some("No request with this request_id.".into()),
            request_id: Some(query.request_id),
            transaction_id: None,
            amount: None,
            fail_code: None,
            signature: String::new(),
        });
    };
    let fail_code = match &entry.status {
        LedgerStatus::Failed { code } => Some(code.clone()),
        LedgerStatus::Processing | LedgerStatus::Completed => None,
    };
    office.signed(VnpostQueryResponse {
        result_code: current_code(&entry),
        message: None,
        request_id: Some(entry.client_reference.clone()),
        transaction_id: Some(entry.provider_ref.clone()),
        amount: Vnd::new(entry.amount),
        fail_code,
        signature: String::new(),
    })
}
