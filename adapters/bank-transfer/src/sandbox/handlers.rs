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
use sandbox_kit::{BookOutcome, Fingerprint, LedgerEntry, LedgerStatus, SubmitRejection};

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
    // Under another bank's BIN the account number is not this holder's: not found.
    match bank
        .kit
        .directory
        .lookup_at(&bank.key, &inquiry.bin, &inquiry.account_number)
    {
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
    let fingerprint = fingerprint(&transfer);
    if let Some(repeated) = bank
        .kit
        .ledger
        .repeated(&bank.key, &transfer.client_reference, &fingerprint)
    {
        return replay(repeated);
    }
    // An account number is the bank's own: under another bank's BIN it is not found.
    let (bin, account_number) = (&transfer.beneficiary_bin, &transfer.beneficiary_account);
    match bank.kit.directory.lookup_at(&bank.key, bin, account_number) {
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
    let booked = match bank.kit.ledger.book(entry, fingerprint) {
        BookOutcome::Booked(booked) => booked,
        repeated => return replay(repeated),
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

/// What identifies a transfer besides its `Idempotency-Key`: everything that says who gets
/// how much for which order. Not `description` (cut to the client's configurable
/// `memo_max_chars`) nor the signed headers (`X-Timestamp`, `X-Signature`), which a client's
/// retry of the same transfer may legitimately change.
fn fingerprint(transfer: &BankTransferRequest) -> Fingerprint {
    Fingerprint::new()
        .with("amount", transfer.amount.to_string())
        .with("beneficiary_bin", &transfer.beneficiary_bin)
        .with("beneficiary_account", &transfer.beneficiary_account)
        .with("end_to_end_id", &transfer.end_to_end_id)
        .with("beneficiary_name", &transfer.beneficiary_name)
}

/// Answers a repeated `Idempotency-Key`: the existing transfer's answer for the same transfer,
/// 409 `IDEMPOTENCY_CONFLICT` for a key reused with another one (naming the field, never its value).
fn replay(repeated: BookOutcome) -> Response {
    match repeated {
        BookOutcome::Booked(entry) | BookOutcome::Existing(entry) => transfer_answer(&entry),
        BookOutcome::Conflict { field, .. } => {
            let message = format!("This Idempotency-Key was used for another transfer (another {field}).");
            bank_error(StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT", &message)
        }
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
