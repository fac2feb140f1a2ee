//! The emulated bank's three endpoints: name inquiry, idempotent transfer submission with
//! fault injection, and status by client reference.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use gateway_adapter::ids::MAX_REQUEST_ID_CHARS;
use gateway_adapter::Vnd;
use sandbox_kit::{BookOutcome, LedgerEntry, LedgerStatus, SubmitRejection};

use super::{Inner, AMOUNT_LIMIT_VND};
use crate::signing;
use crate::transformers::{
    BankNameInquiryRequest, BankNameInquiryResponse, BankStatusResponse, BankTransferRequest, BankTransferResponse,
    BankTransferStatus,
};

type Bank = State<Arc<Inner>>;

fn bank_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error_code": code, "message": message });
    (status, Json(body)).into_response()
}

fn bad_signature() -> Response {
    let message = "The request signature does not verify.";
    bank_error(StatusCode::UNAUTHORIZED, "BAD_SIGNATURE", message)
}

fn rejected(code: &str, message: &str) -> Response {
    bank_error(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// The answer for a transfer the ledger holds: 202 while processing, 200 once final.
fn transfer_answer(entry: &LedgerEntry) -> Response {
    let (code, status) = match entry.status {
        LedgerStatus::Processing => (StatusCode::ACCEPTED, BankTransferStatus::Processing),
        LedgerStatus::Completed => (StatusCode::OK, BankTransferStatus::Completed),
        LedgerStatus::Failed { .. } => (StatusCode::OK, BankTransferStatus::Failed),
    };
    let body = BankTransferResponse {
        transfer_id: entry.provider_ref.clone(),
        client_reference: entry.client_reference.clone(),
        status,
    };
    (code, Json(body)).into_response()
}

pub(super) async fn name_inquiry(
    State(bank): Bank,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bank.kit.note_arrival(&bank.key);
    if !bank.authentic(&method, &uri, &headers, &body) {
        return bad_signature();
    }
    tokio::time::sleep(bank.kit.faults(&bank.key).latency()).await;
    let Ok(inquiry) = serde_json::from_slice::<BankNameInquiryRequest>(&body) else {
        return rejected("INVALID_REQUEST", "The body is not a name inquiry.");
    };
    match bank.kit.directory.lookup(&bank.key, &inquiry.account_number) {
        // A closed account still has a holder: the closure shows at transfer time.
        Some(account) => Json(BankNameInquiryResponse {
            account_name: account.holder_name,
        })
        .into_response(),
        None => bank_error(
            StatusCode::NOT_FOUND,
            "ACCOUNT_NOT_FOUND",
            "No such account at this bank.",
        ),
    }
}

pub(super) async fn submit(State(bank): Bank, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    bank.kit.note_arrival(&bank.key);
    if !bank.authentic(&method, &uri, &headers, &body) {
        return bad_signature();
    }
    let faults = bank.kit.faults(&bank.key);
    tokio::time::sleep(faults.latency()).await;
    match faults.take_submit_rejection() {
        Some(SubmitRejection::Unavailable) => {
            let message = "The bank is unavailable; try again.";
            return bank_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", message);
        }
        Some(SubmitRejection::RateLimited) => {
            let message = "Too many requests; slow down.";
            let mut answer = bank_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message);
            answer
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            return answer;
        }
        None => {}
    }
    let Ok(transfer) = serde_json::from_slice::<BankTransferRequest>(&body) else {
        return rejected("INVALID_REQUEST", "The body is not a transfer request.");
    };
    let key = headers
        .get(signing::HEADER_IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok());
    if key != Some(transfer.client_reference.as_str()) {
        let message = "Idempotency-Key must be present and equal client_reference.";
        return rejected("INVALID_REQUEST", message);
    }
    if transfer.client_reference.is_empty() || transfer.client_reference.len() > MAX_REQUEST_ID_CHARS {
        let message = "client_reference must be 1 to 32 characters.";
        return rejected("INVALID_REQUEST", message);
    }
    if transfer.currency != "VND" || transfer.amount == 0 {
        return rejected("INVALID_REQUEST", "Only positive whole VND amounts are accepted.");
    }
    // A repeated key answers from the ledger before any check that could have changed since.
    if let Some(existing) = bank.kit.ledger.get(&bank.key, &transfer.client_reference) {
        return replay(&existing, transfer.amount);
    }
    match bank.kit.directory.lookup(&bank.key, &transfer.beneficiary_account) {
        None => return rejected("ACCOUNT_NOT_FOUND", "No such account at this bank."),
        Some(account) if account.closed => return rejected("ACCOUNT_CLOSED", "The beneficiary account is closed."),
        Some(_) => {}
    }
    if transfer.amount > AMOUNT_LIMIT_VND {
        return rejected("AMOUNT_LIMIT_EXCEEDED", "The amount is over the per-transfer limit.");
    }
    let entry = LedgerEntry {
        provider: bank.key.clone(),
        client_reference: transfer.client_reference.clone(),
        provider_ref: format!("FT{:016X}", rand::random::<u64>()),
        order_ref: transfer.end_to_end_id.clone(),
        amount: transfer.amount,
        account: transfer.beneficiary_account.clone(),
        status: LedgerStatus::Processing,
        booked_at: Utc::now(),
    };
    let booked = match bank.kit.ledger.book(entry) {
        BookOutcome::Booked(booked) => booked,
        BookOutcome::Existing(existing) | BookOutcome::Conflict(existing) => return replay(&existing, transfer.amount),
    };
    let completion_bank = bank.clone();
    let complete_after = faults.complete_after();
    let reference = booked.client_reference.clone();
    tokio::spawn(async move {
        tokio::time::sleep(complete_after).await;
        if let Some(done) = completion_bank.kit.ledger.complete(&completion_bank.key, &reference) {
            completion_bank.send_callback(&done);
        }
    });
    if faults.take_timeout_after_booking() {
        // The credit is booked; the client will give up before this answer comes.
        tokio::time::sleep(faults.hang()).await;
    }
    transfer_answer(&booked)
}

/// Answers a repeated `Idempotency-Key`: the existing transfer, or 409 for another amount.
fn replay(existing: &LedgerEntry, amount: u64) -> Response {
    if existing.amount == amount {
        transfer_answer(existing)
    } else {
        let message = "This Idempotency-Key was used for another amount.";
        bank_error(StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT", message)
    }
}

pub(super) async fn transfer_status(
    State(bank): Bank,
    Path(client_reference): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    bank.kit.note_arrival(&bank.key);
    if !bank.authentic(&method, &uri, &headers, b"") {
        return bad_signature();
    }
    tokio::time::sleep(bank.kit.faults(&bank.key).latency()).await;
    let Some(entry) = bank.kit.ledger.get(&bank.key, &client_reference) else {
        let message = "No transfer with this client_reference.";
        return bank_error(StatusCode::NOT_FOUND, "TRANSFER_NOT_FOUND", message);
    };
    let (status, reason_code) = match entry.status {
        LedgerStatus::Processing => (BankTransferStatus::Processing, None),
        LedgerStatus::Completed => (BankTransferStatus::Completed, None),
        LedgerStatus::Failed { code } => (BankTransferStatus::Failed, Some(code)),
    };
    Json(BankStatusResponse {
        transfer_id: entry.provider_ref,
        client_reference: entry.client_reference,
        status,
        reason_code,
        amount: Vnd::new(entry.amount),
    })
    .into_response()
}
