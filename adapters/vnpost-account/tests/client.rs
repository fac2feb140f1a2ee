//! The VNPost-account adapter against a `wiremock` Post Office: request shape and signature,
//! the classification of every result code, answer signatures, and callback verification.

mod common;

use std::time::Duration;

use common::{adapter, fixed_now, payout, signed, signed_with, ACCOUNT, FIXED_NOW, ORDER, PAYMENT};
use gateway_adapter::{
    AdapterError, BankBin, CallbackError, Destination, PaymentId, PayoutAdapter, ProviderStatus, Vnd,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The Post Office mounted under `/vnpost`, as the sandbox is.
fn base_url(server: &MockServer) -> String {
    format!("{}/vnpost", server.uri())
}

async fn answer(server: &MockServer, api_path: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/vnpost{api_path}")))
        .respond_with(response)
        .mount(server)
        .await;
}

fn payout_answer(code: &str) -> serde_json::Value {
    signed(serde_json::json!({
        "result_code": code, "message": "test", "request_id": PAYMENT, "transaction_id": "VNP0001"
    }))
}

async fn submit_answered_with(response: ResponseTemplate) -> Result<ProviderStatus, AdapterError> {
    let server = MockServer::start().await;
    answer(&server, "/api/v1/payouts", response).await;
    adapter(&base_url(&server), 2_000).submit(&payout(PAYMENT, ORDER)).await
}

async fn submit_answered_code(code: &str) -> Result<ProviderStatus, AdapterError> {
    submit_answered_with(ResponseTemplate::new(200).set_body_json(payout_answer(code))).await
}

async fn query_answered_with(body: serde_json::Value) -> Result<ProviderStatus, AdapterError> {
    let server = MockServer::start().await;
    answer(
        &server,
        "/api/v1/payouts/query",
        ResponseTemplate::new(200).set_body_json(body),
    )
    .await;
    adapter(&base_url(&server), 2_000)
        .query_status(&payout(PAYMENT, ORDER))
        .await
}

fn assert_permanent(result: &Result<ProviderStatus, AdapterError>, expected: &str) {
    assert!(
        matches!(result, Err(AdapterError::Permanent { code, .. }) if code == expected),
        "expected Permanent {expected}, got {result:?}"
    );
}

fn assert_transient(result: &Result<ProviderStatus, AdapterError>, expected: &str) {
    assert!(
        matches!(result, Err(AdapterError::Transient { code, .. }) if code == expected),
        "expected Transient {expected}, got {result:?}"
    );
}

// --- request shape -----------------------------------------------------------------------

#[tokio::test]
async fn a_payout_sends_the_documented_body_signed_over_its_sorted_fields() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/api/v1/payouts",
        ResponseTemplate::new(200).set_body_json(payout_answer("01")),
    )
    .await;
    let adapter = adapter(&base_url(&server), 2_000).with_clock(fixed_now);

    adapter
        .submit(&payout(PAYMENT, ORDER))
        .await
        .expect("VNPost accepted the payout");

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    // HMAC-SHA512("test-vnpost-secret", "account_no=8800123456789&amount=500000&beneficiary_name=
    // NGUYEN VAN AN&citizen_id=034087001234&content=Tro cap bao tro xa hoi thang 11/2026 xa Hong
    // Phong&order_ref=ORD-2026-11-000123&partner_id=GW-TEST&request_id=pay_01J9Z8ZKQ2"), computed
    // independently of this crate with Python's `hmac`. No timestamp: a payout's bytes are the
    // same on every attempt.
    let expected_body = concat!(
        r#"{"partner_id":"GW-TEST","request_id":"pay_01J9Z8ZKQ2","order_ref":"ORD-2026-11-000123","#,
        r#""account_no":"8800123456789","amount":500000,"citizen_id":"034087001234","#,
        r#""beneficiary_name":"NGUYEN VAN AN","content":"Tro cap bao tro xa hoi thang 11/2026 xa Hong Phong","#,
        r#""signature":"bb016a8a23760fff3786e9d5aba7b1331b943394cd42a1453824f58773ca12b7afaf231dce5c456f71febb9465e6f9e52aab51c4b66362cf00afb92549b8ab0f"}"#
    );
    assert_eq!(String::from_utf8_lossy(&requests[0].body), expected_body);
    assert_eq!(
        requests[0]
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test]
async fn a_status_query_and_an_account_inquiry_carry_the_documented_signed_bodies() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/api/v1/payouts/query",
        ResponseTemplate::new(200).set_body_json(signed(serde_json::json!({
            "result_code": "01", "request_id": PAYMENT, "transaction_id": "VNP0001", "amount": 500_000
        }))),
    )
    .await;
    answer(
        &server,
        "/api/v1/account/inquiry",
        ResponseTemplate::new(200).set_body_json(signed(serde_json::json!({
            "result_code": "00", "account_no": ACCOUNT, "holder_name": "NGUYEN VAN AN"
        }))),
    )
    .await;
    let adapter = adapter(&base_url(&server), 2_000).with_clock(fixed_now);
    let request = payout(PAYMENT, ORDER);

    assert_eq!(
        adapter.query_status(&request).await,
        Ok(ProviderStatus::Pending {
            provider_ref: Some("VNP0001".into())
        })
    );
    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));

    let requests = server.received_requests().await.expect("recording is on");
    let bodies: Vec<String> = requests
        .iter()
        .map(|sent| String::from_utf8_lossy(&sent.body).into_owned())
        .collect();
    // Both signatures computed independently with Python's `hmac` (see the payout test).
    assert_eq!(
        bodies,
        vec![
            r#"{"partner_id":"GW-TEST","request_id":"pay_01J9Z8ZKQ2","timestamp":"20260101070000","signature":"5f7a7d3bc30f88b7fecba1a2ee4231792cd631120a16d3810627b726ceaa6654ddd8a119d6220d11a3136f198eff1417ff10b4da19aabe7c92ca8d172f54f23e"}"#.to_string(),
            r#"{"partner_id":"GW-TEST","account_no":"8800123456789","timestamp":"20260101070000","signature":"6c775c272c1e4a2813f1363ca3ba4f6464999960e9b63777357ed368f647e1ba15b2eebd2cc25761eda03fcc84d926329421fb071b4118fcf56f588b4c966abe"}"#.to_string(),
        ]
    );
}

#[tokio::test]
async fn two_submits_of_one_payment_carry_the_same_request_id() {
    let server = MockServer::start().await;
    answer(&server, "/api/v1/payouts", ResponseTemplate::new(503)).await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(PAYMENT, ORDER);
    let _first = adapter.submit(&request).await;
    let _second = adapter.submit(&request).await;
    let requests = server.received_requests().await.expect("recording is on");
    let ids: Vec<Option<String>> = requests
        .iter()
        .map(|sent| {
            serde_json::from_slice::<serde_json::Value>(&sent.body)
                .ok()
                .and_then(|body| body["request_id"].as_str().map(str::to_string))
        })
        .collect();
    assert_eq!(ids, vec![Some(PAYMENT.to_string()), Some(PAYMENT.to_string())]);
}

fn an_hour_later() -> i64 {
    FIXED_NOW + 3_600
}

#[tokio::test]
async fn two_submits_of_one_payment_send_byte_identical_bodies_even_when_the_clock_moved() {
    let server = MockServer::start().await;
    answer(&server, "/api/v1/payouts", ResponseTemplate::new(503)).await;
    let request = payout(PAYMENT, ORDER);
    let _first = adapter(&base_url(&server), 2_000)
        .with_clock(fixed_now)
        .submit(&request)
        .await;
    let _resent = adapter(&base_url(&server), 2_000)
        .with_clock(an_hour_later)
        .submit(&request)
        .await;
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        String::from_utf8_lossy(&requests[0].body),
        String::from_utf8_lossy(&requests[1].body)
    );
}

#[tokio::test]
async fn a_destination_other_than_a_vnpost_account_is_an_invalid_request_and_sends_nothing() {
    let server = MockServer::start().await;
    let mut request = payout(PAYMENT, ORDER);
    request.destination = Destination::BankAccount {
        bin: BankBin::try_from("970436").expect("Vietcombank's BIN"),
        account_number: gateway_adapter::AccountNumber::try_from(ACCOUNT).expect("a valid account number"),
        account_name: None,
    };
    let result = adapter(&base_url(&server), 2_000).submit(&request).await;
    assert_permanent(&result, "invalid_request");
    let requests = server.received_requests().await.expect("recording is on");
    assert!(requests.is_empty());
}

// --- payout result codes -----------------------------------------------------------------

#[tokio::test]
async fn result_00_is_succeeded() {
    assert_eq!(
        submit_answered_code("00").await,
        Ok(ProviderStatus::Succeeded {
            provider_ref: Some("VNP0001".into())
        })
    );
}

#[tokio::test]
async fn result_01_is_pending() {
    assert_eq!(
        submit_answered_code("01").await,
        Ok(ProviderStatus::Pending {
            provider_ref: Some("VNP0001".into())
        })
    );
}

#[tokio::test]
async fn result_02_says_vnpost_already_holds_our_request_id_so_it_leads_to_an_inquiry_not_a_failure() {
    // On a resend after a 5xx or a timeout the first payout may have been booked: only a
    // status query can tell, so `02` must never fail the payment.
    let result = submit_answered_code("02").await;
    assert!(
        matches!(&result, Err(AdapterError::UnknownOutcome { message }) if message.contains("02")),
        "{result:?}"
    );
}

#[tokio::test]
async fn result_10_is_a_permanent_account_not_found() {
    assert_permanent(&submit_answered_code("10").await, "account_not_found");
}

#[tokio::test]
async fn result_11_is_a_permanent_account_closed() {
    assert_permanent(&submit_answered_code("11").await, "account_closed");
}

#[tokio::test]
async fn result_12_is_a_permanent_identity_mismatch() {
    assert_permanent(&submit_answered_code("12").await, "identity_mismatch");
}

#[tokio::test]
async fn result_13_is_a_permanent_amount_over_limit() {
    assert_permanent(&submit_answered_code("13").await, "amount_over_limit");
}

#[tokio::test]
async fn result_20_is_a_transient_auth_failure_so_nothing_is_failed_while_ops_fix_the_secret() {
    assert_transient(&submit_answered_code("20").await, "provider_auth_failed");
}

#[tokio::test]
async fn result_21_is_a_permanent_invalid_request() {
    assert_permanent(&submit_answered_code("21").await, "invalid_request");
}

#[tokio::test]
async fn result_96_is_a_transient_busy_provider() {
    assert_transient(&submit_answered_code("96").await, "provider_busy");
}

#[tokio::test]
async fn result_99_is_an_unknown_outcome() {
    let result = submit_answered_code("99").await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

#[tokio::test]
async fn an_unlisted_result_code_is_an_unknown_outcome_never_a_success() {
    for code in ["42", "0", "000", "OK"] {
        let result = submit_answered_code(code).await;
        assert!(
            matches!(result, Err(AdapterError::UnknownOutcome { .. })),
            "{code} gave {result:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_about_another_request_id_is_an_unknown_outcome() {
    let body = signed(serde_json::json!({
        "result_code": "00", "request_id": "pay_someone_else", "transaction_id": "VNP0001"
    }));
    let result = submit_answered_with(ResponseTemplate::new(200).set_body_json(body)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

// --- HTTP and transport ------------------------------------------------------------------

/// VNPost answers a payout with 200. Another success status (a proxy's 202, say), or a 409
/// (a duplicate of our request id), may mean it holds the payout: an inquiry must settle it,
/// never a failure (upstream would reissue the order and VNPost may have paid the first).
#[tokio::test]
async fn a_payout_answered_with_another_success_status_or_409_is_an_unknown_outcome() {
    for status in [201, 202, 204, 409] {
        let result = submit_answered_with(ResponseTemplate::new(status).set_body_json(payout_answer("01"))).await;
        assert!(
            matches!(result, Err(AdapterError::UnknownOutcome { .. })),
            "HTTP {status} gave {result:?}"
        );
    }
}

#[tokio::test]
async fn http_503_is_transient() {
    let result = submit_answered_with(ResponseTemplate::new(503)).await;
    assert_transient(&result, "http_503");
}

#[tokio::test]
async fn http_429_is_transient_and_keeps_retry_after() {
    let result = submit_answered_with(ResponseTemplate::new(429).insert_header("retry-after", "7")).await;
    assert!(
        matches!(&result, Err(AdapterError::Transient { code, retry_after, .. })
            if code == "http_429" && *retry_after == Some(Duration::from_secs(7))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_payout_that_times_out_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(payout_answer("00"))
        .set_delay(Duration::from_millis(1_500));
    answer(&server, "/api/v1/payouts", slow).await;
    let result = adapter(&base_url(&server), 200).submit(&payout(PAYMENT, ORDER)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

#[tokio::test]
async fn a_refused_connection_is_transient_because_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    drop(listener);
    let result = adapter(&format!("http://{address}/vnpost"), 1_000)
        .submit(&payout(PAYMENT, ORDER))
        .await;
    assert_transient(&result, "provider_unreachable");
}

// --- answer signatures -------------------------------------------------------------------

#[tokio::test]
async fn a_success_answer_with_a_bad_signature_is_an_unknown_outcome_for_a_payout() {
    let mut body = payout_answer("00");
    body["signature"] = serde_json::json!("00".repeat(64));
    let result = submit_answered_with(ResponseTemplate::new(200).set_body_json(body)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

#[tokio::test]
async fn an_answer_signed_with_another_secret_or_unsigned_is_never_believed() {
    let forged = signed_with(
        "attacker",
        serde_json::json!({"result_code": "00", "request_id": PAYMENT, "transaction_id": "X"}),
    );
    let result = submit_answered_with(ResponseTemplate::new(200).set_body_json(forged)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
    let unsigned = serde_json::json!({"result_code": "00", "request_id": PAYMENT});
    let result = submit_answered_with(ResponseTemplate::new(200).set_body_json(unsigned)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

#[tokio::test]
async fn a_status_answer_with_a_bad_signature_is_transient() {
    let mut body = signed(serde_json::json!({
        "result_code": "00", "request_id": PAYMENT, "transaction_id": "VNP0001", "amount": 500_000
    }));
    // The amount changed after signing.
    body["amount"] = serde_json::json!(50_000_000);
    let result = query_answered_with(body).await;
    assert_transient(&result, "provider_bad_signature");
}

// --- status query ------------------------------------------------------------------------

#[tokio::test]
async fn query_00_is_succeeded() {
    let body = signed(serde_json::json!({
        "result_code": "00", "request_id": PAYMENT, "transaction_id": "VNP0001", "amount": 500_000
    }));
    assert_eq!(
        query_answered_with(body).await,
        Ok(ProviderStatus::Succeeded {
            provider_ref: Some("VNP0001".into())
        })
    );
}

#[tokio::test]
async fn query_05_means_vnpost_never_received_the_payment() {
    let body = signed(serde_json::json!({"result_code": "05", "request_id": PAYMENT}));
    assert_eq!(query_answered_with(body).await, Ok(ProviderStatus::NotFound));
    let unnamed = signed(serde_json::json!({"result_code": "05"}));
    assert_eq!(query_answered_with(unnamed).await, Ok(ProviderStatus::NotFound));
}

/// "Not found" about another request is no answer about ours. (Before, it was taken as ours:
/// the payment was resubmitted on another payment's answer, an attempt spent.)
#[tokio::test]
async fn query_05_about_another_request_is_transient() {
    let body = signed(serde_json::json!({"result_code": "05", "request_id": "pay_someone_else"}));
    let answer = query_answered_with(body).await;
    assert!(
        matches!(&answer, Err(AdapterError::Transient { code, .. }) if code == "provider_bad_answer"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn query_03_is_failed_with_the_mapped_fail_code() {
    let body = signed(serde_json::json!({
        "result_code": "03", "request_id": PAYMENT, "transaction_id": "VNP0001",
        "amount": 500_000, "fail_code": "11"
    }));
    let status = query_answered_with(body).await;
    assert!(
        matches!(&status, Ok(ProviderStatus::Failed { code, .. }) if code == "account_closed"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_status_with_another_amount_is_never_taken_as_paid() {
    let body = signed(serde_json::json!({
        "result_code": "00", "request_id": PAYMENT, "transaction_id": "VNP0001", "amount": 5_000_000
    }));
    let status = query_answered_with(body).await;
    assert!(matches!(status, Err(AdapterError::UnknownOutcome { .. })), "{status:?}");
}

#[tokio::test]
async fn an_unlisted_query_code_stays_pending() {
    let body = signed(serde_json::json!({
        "result_code": "42", "request_id": PAYMENT, "transaction_id": "VNP0001", "amount": 500_000
    }));
    assert_eq!(
        query_answered_with(body).await,
        Ok(ProviderStatus::Pending {
            provider_ref: Some("VNP0001".into())
        })
    );
}

// --- name inquiry ------------------------------------------------------------------------

#[tokio::test]
async fn inquiry_10_is_account_not_found_without_the_account_in_the_message() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/api/v1/account/inquiry",
        ResponseTemplate::new(200)
            .set_body_json(signed(serde_json::json!({"result_code": "10", "account_no": ACCOUNT}))),
    )
    .await;
    let missing = adapter(&base_url(&server), 2_000)
        .name_inquiry(&payout(PAYMENT, ORDER))
        .await;
    assert!(
        matches!(&missing, Err(AdapterError::Permanent { code, message })
            if code == "account_not_found" && !message.contains(ACCOUNT)),
        "{missing:?}"
    );
}

// --- callbacks ---------------------------------------------------------------------------

/// A `00` callback signed with the test secret; the signature was computed independently
/// with Python's `hmac` over `amount=500000&event_id=EV0001&order_ref=ORD-2026-11-000123&
/// request_id=pay_01J9Z8ZKQ2&result_code=00&timestamp=20260101070000&transaction_id=VNP0001`.
const CALLBACK_SIGNATURE: &str = "17d61d382e7fffd1fb95d61531fba3a32ac5e5e1dec89a928045031e0aa24becb547bf6b97319e707812a6c3da1b4c243502e5f9a3dc0bdedf98695e380195d3";

fn callback_body(amount: u64, signature: Option<&str>) -> Vec<u8> {
    let mut body = serde_json::json!({
        "event_id": "EV0001", "request_id": PAYMENT, "order_ref": ORDER,
        "transaction_id": "VNP0001", "amount": amount, "result_code": "00",
        "timestamp": "20260101070000"
    });
    if let Some(signature) = signature {
        body["signature"] = serde_json::json!(signature);
    }
    serde_json::to_vec(&body).expect("a JSON body")
}

fn offline_adapter() -> adapter_vnpost_account::VnpostAccountAdapter {
    adapter("http://127.0.0.1:9/vnpost", 1_000)
}

#[test]
fn the_callback_vector_verifies_and_parses_into_a_succeeded_event() {
    let adapter = offline_adapter();
    let body = callback_body(500_000, Some(CALLBACK_SIGNATURE));
    let headers = http::HeaderMap::new();
    assert_eq!(adapter.verify_callback(&headers, &body, FIXED_NOW + 10), Ok(()));
    let event = adapter.parse_callback(&headers, &body).expect("a well-formed callback");
    assert_eq!(event.event_id, "EV0001");
    assert_eq!(event.payment_id, PaymentId::from_stored(PAYMENT));
    assert_eq!(event.amount, Vnd::new(500_000));
    assert_eq!(
        event.status,
        ProviderStatus::Succeeded {
            provider_ref: Some("VNP0001".into())
        }
    );
}

#[test]
fn a_forged_callback_with_a_changed_amount_is_refused() {
    let body = callback_body(50_000_000, Some(CALLBACK_SIGNATURE));
    assert_eq!(
        offline_adapter().verify_callback(&http::HeaderMap::new(), &body, FIXED_NOW),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn a_callback_signed_with_another_secret_is_refused() {
    let forged = signed_with(
        "attacker",
        serde_json::json!({
            "event_id": "EV0001", "request_id": PAYMENT, "order_ref": ORDER,
            "transaction_id": "VNP0001", "amount": 500_000, "result_code": "00",
            "timestamp": "20260101070000"
        }),
    );
    let body = serde_json::to_vec(&forged).expect("a JSON body");
    assert_eq!(
        offline_adapter().verify_callback(&http::HeaderMap::new(), &body, FIXED_NOW),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn a_stale_callback_is_refused_even_with_a_valid_signature() {
    let body = callback_body(500_000, Some(CALLBACK_SIGNATURE));
    let adapter = offline_adapter();
    let headers = http::HeaderMap::new();
    assert_eq!(
        adapter.verify_callback(&headers, &body, FIXED_NOW + 301),
        Err(CallbackError::StaleTimestamp)
    );
    assert_eq!(
        adapter.verify_callback(&headers, &body, FIXED_NOW - 301),
        Err(CallbackError::StaleTimestamp)
    );
}

#[test]
fn a_callback_without_a_signature_is_refused() {
    let body = callback_body(500_000, None);
    assert_eq!(
        offline_adapter().verify_callback(&http::HeaderMap::new(), &body, FIXED_NOW),
        Err(CallbackError::MissingSignature)
    );
}

#[test]
fn a_callback_that_is_not_a_json_object_is_malformed() {
    let result = offline_adapter().verify_callback(&http::HeaderMap::new(), b"[1,2]", FIXED_NOW);
    assert!(matches!(result, Err(CallbackError::Malformed(_))), "{result:?}");
}

#[test]
fn a_failed_callback_parses_into_a_failed_event_with_the_mapped_code() {
    let body = signed(serde_json::json!({
        "event_id": "EV0002", "request_id": PAYMENT, "order_ref": ORDER,
        "transaction_id": "VNP0001", "amount": 500_000, "result_code": "03",
        "fail_code": "12", "timestamp": "20260101070000"
    }));
    let body = serde_json::to_vec(&body).expect("a JSON body");
    let adapter = offline_adapter();
    let headers = http::HeaderMap::new();
    assert_eq!(adapter.verify_callback(&headers, &body, FIXED_NOW), Ok(()));
    let event = adapter.parse_callback(&headers, &body).expect("a well-formed callback");
    assert!(
        matches!(&event.status, ProviderStatus::Failed { code, .. } if code == "identity_mismatch"),
        "{event:?}"
    );
}

#[test]
fn a_callback_with_a_zero_negative_fractional_or_missing_amount_reports_no_amount() {
    let adapter = offline_adapter();
    let headers = http::HeaderMap::new();
    for amount in [
        Some(serde_json::json!(0)),
        Some(serde_json::json!(-500_000)),
        Some(serde_json::json!(500_000.5)),
        Some(serde_json::json!("a lot")),
        None,
    ] {
        let mut fields = serde_json::json!({
            "event_id": "EV0003", "request_id": PAYMENT, "order_ref": ORDER,
            "transaction_id": "VNP0001", "result_code": "00", "timestamp": "20260101070000"
        });
        if let Some(amount) = &amount {
            fields["amount"] = amount.clone();
        }
        let body = serde_json::to_vec(&signed(fields)).expect("a JSON body");
        assert_eq!(adapter.verify_callback(&headers, &body, FIXED_NOW), Ok(()));
        let event = adapter.parse_callback(&headers, &body);
        assert!(
            matches!(&event, Ok(event) if event.amount.is_none()
                && matches!(event.status, ProviderStatus::Succeeded { .. })),
            "{amount:?}: {event:?}"
        );
    }
}

#[test]
fn a_malformed_callback_is_refused_without_quoting_vnpost() {
    let body = signed(serde_json::json!({
        // An id may come as a number (it signs as its text); as a list it is malformed.
        "event_id": "EV0004", "request_id": PAYMENT, "order_ref": ["84981234567"],
        "transaction_id": "VNP0001", "amount": 500_000, "result_code": "00",
        "timestamp": "20260101070000"
    }));
    let body = serde_json::to_vec(&body).expect("a JSON body");
    let adapter = offline_adapter();
    let headers = http::HeaderMap::new();
    assert_eq!(adapter.verify_callback(&headers, &body, FIXED_NOW), Ok(()));
    let refused = adapter.parse_callback(&headers, &body);
    assert!(
        matches!(&refused, Err(CallbackError::Malformed(message)) if !message.contains("84981234567")),
        "{refused:?}"
    );
}

#[test]
fn a_captured_callback_re_minted_across_a_field_boundary_is_refused() {
    // A genuine failed callback, signed by VNPost.
    let captured = signed(serde_json::json!({
        "event_id": "EV0002", "request_id": PAYMENT, "order_ref": ORDER,
        "transaction_id": "VNP0001", "amount": 500_000, "result_code": "03",
        "fail_code": "12", "timestamp": "20260101070000"
    }));
    // The same signature over other fields: `fail_code` folded into a new event id.
    let mut re_minted = captured.clone();
    let fields = re_minted.as_object_mut().expect("an object");
    fields.remove("fail_code");
    fields.insert("event_id".into(), serde_json::json!("EV0002&fail_code=12"));
    let body = serde_json::to_vec(&re_minted).expect("a JSON body");
    let adapter = offline_adapter();
    let headers = http::HeaderMap::new();
    assert_eq!(
        adapter.verify_callback(&headers, &serde_json::to_vec(&captured).expect("JSON"), FIXED_NOW),
        Ok(())
    );
    assert_eq!(
        adapter.verify_callback(&headers, &body, FIXED_NOW),
        Err(CallbackError::BadSignature)
    );
}

#[tokio::test]
async fn a_final_status_without_a_positive_amount_is_never_taken_as_paid_or_failed() {
    for (code, amount) in [("00", None), ("03", None), ("00", Some(0)), ("03", Some(-500_000))] {
        let mut body = serde_json::json!({
            "result_code": code, "request_id": PAYMENT, "transaction_id": "VNP0001", "fail_code": "11"
        });
        if code == "00" {
            body.as_object_mut().expect("an object").remove("fail_code");
        }
        if let Some(amount) = amount {
            body["amount"] = serde_json::json!(amount);
        }
        let status = query_answered_with(signed(body)).await;
        assert!(
            matches!(status, Err(AdapterError::UnknownOutcome { .. })),
            "{code} {amount:?}: {status:?}"
        );
    }
}
