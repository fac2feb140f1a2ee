//! The bank-transfer adapter against a `wiremock` bank: request shape and signature, the
//! classification of every answer, and Standard Webhooks callback verification.

mod common;

use std::time::Duration;

use common::{adapter, fixed_now, payout, FIXED_NOW, WEBHOOK_SECRET};
use gateway_adapter::{AdapterError, CallbackError, PaymentId, PayoutAdapter, ProviderStatus, Vnd};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAYMENT: &str = "pay_01J9Z8ZKQ2";
const ORDER: &str = "ORD-2026-11-000123";

/// A bank mounted under `/bank`, as the sandbox is; the signature covers `/v1/...` only.
async fn bank() -> MockServer {
    MockServer::start().await
}

fn base_url(server: &MockServer) -> String {
    format!("{}/bank", server.uri())
}

async fn answer_submit(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/bank/v1/transfers"))
        .respond_with(response)
        .mount(server)
        .await;
}

fn accepted(status: &str) -> serde_json::Value {
    serde_json::json!({"transfer_id": "FT0001", "client_reference": PAYMENT, "status": status})
}

async fn submit_answered_with(response: ResponseTemplate) -> Result<ProviderStatus, AdapterError> {
    let server = bank().await;
    answer_submit(&server, response).await;
    adapter(&base_url(&server), 2_000).submit(&payout(PAYMENT, ORDER)).await
}

/// What `query_status` makes of `response` to the status inquiry.
async fn query_answered_with(response: ResponseTemplate) -> Result<ProviderStatus, AdapterError> {
    let server = bank().await;
    Mock::given(method("GET"))
        .and(path(format!("/bank/v1/transfers/{PAYMENT}")))
        .respond_with(response)
        .mount(&server)
        .await;
    adapter(&base_url(&server), 2_000)
        .query_status(&payout(PAYMENT, ORDER))
        .await
}

#[tokio::test]
async fn submit_sends_the_documented_body_and_a_signature_over_the_api_path() {
    let server = bank().await;
    answer_submit(
        &server,
        ResponseTemplate::new(202).set_body_json(accepted("PROCESSING")),
    )
    .await;
    let adapter = adapter(&base_url(&server), 2_000).with_clock(fixed_now);

    adapter
        .submit(&payout(PAYMENT, ORDER))
        .await
        .expect("the bank accepted the transfer");

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    let expected_body = r#"{"client_reference":"pay_01J9Z8ZKQ2","end_to_end_id":"ORD-2026-11-000123","amount":2789000,"currency":"VND","beneficiary_bin":"970436","beneficiary_account":"0011004455667","beneficiary_name":"NGUYEN VAN AN","description":"Tro cap uu dai thang 11/2"}"#;
    assert_eq!(String::from_utf8_lossy(&sent.body), expected_body);
    let header_value = |name: &str| {
        sent.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header_value("idempotency-key").as_deref(), Some(PAYMENT));
    assert_eq!(header_value("x-client-id").as_deref(), Some("gateway-test"));
    assert_eq!(header_value("x-timestamp"), Some(FIXED_NOW.to_string()));
    // HMAC-SHA256("test-request-secret", "1767225600\nPOST\n/v1/transfers\n" + body),
    // computed independently of this crate.
    assert_eq!(
        header_value("x-signature").as_deref(),
        Some("362296383e588cac30d05a110733d4baf509c8a10fb19abbde794678fddb571a")
    );
}

#[tokio::test]
async fn status_inquiry_signs_an_empty_body_over_the_reference_path() {
    let server = bank().await;
    Mock::given(method("GET"))
        .and(path(format!("/bank/v1/transfers/{PAYMENT}")))
        .and(header(
            "x-signature",
            "a07adfbd22e706e124d7f5089f57ab771c5d37bbb25c4f3c043a824be53fdfe0",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "transfer_id": "FT0001", "client_reference": PAYMENT, "status": "PROCESSING",
            "reason_code": null, "amount": 2_789_000
        })))
        .mount(&server)
        .await;
    let status = adapter(&base_url(&server), 2_000)
        .with_clock(fixed_now)
        .query_status(&payout(PAYMENT, ORDER))
        .await;
    assert_eq!(
        status,
        Ok(ProviderStatus::Pending {
            provider_ref: Some("FT0001".into())
        })
    );
}

#[tokio::test]
async fn accepted_202_is_pending_and_200_completed_is_succeeded() {
    let pending = submit_answered_with(ResponseTemplate::new(202).set_body_json(accepted("PROCESSING"))).await;
    assert_eq!(
        pending,
        Ok(ProviderStatus::Pending {
            provider_ref: Some("FT0001".into())
        })
    );
    let done = submit_answered_with(ResponseTemplate::new(200).set_body_json(accepted("COMPLETED"))).await;
    assert_eq!(
        done,
        Ok(ProviderStatus::Succeeded {
            provider_ref: Some("FT0001".into())
        })
    );
}

#[tokio::test]
async fn each_422_code_is_permanent_with_its_reason_code() {
    for (bank_code, reason_code) in [
        ("ACCOUNT_NOT_FOUND", "account_not_found"),
        ("ACCOUNT_CLOSED", "account_closed"),
        ("AMOUNT_LIMIT_EXCEEDED", "amount_over_limit"),
        ("INVALID_REQUEST", "invalid_request"),
    ] {
        let body = serde_json::json!({"error_code": bank_code, "message": "refused"});
        let result = submit_answered_with(ResponseTemplate::new(422).set_body_json(body)).await;
        assert!(
            matches!(&result, Err(AdapterError::Permanent { code, .. }) if code == reason_code),
            "{bank_code} gave {result:?}"
        );
    }
}

/// The client id goes in the `X-Client-Id` header of every call: one no header can carry (a
/// control character, empty) is refused when the adapter is built, naming the key, instead of
/// failing every payment at its first call with `invalid_request` — which, on a payment sent
/// before, read as the bank's refusal of a transfer it may have booked.
#[test]
fn a_client_id_no_header_can_carry_is_refused_at_start() {
    for client_id in ["", "province\ntb", "del\u{7f}"] {
        let config = adapter_bank_transfer::BankTransferConfig {
            client_id: client_id.into(),
            ..common::config("http://127.0.0.1:1/bank", 1_000)
        };
        assert_refused_naming(config, "client_id");
    }
}

/// An empty `request_secret` (an unset template variable) is refused at start, naming it: it
/// signed every call with an empty key, each refused 401, found at the first payment.
#[test]
fn an_empty_request_secret_is_refused_at_start() {
    let config = adapter_bank_transfer::BankTransferConfig {
        request_secret: secrecy::SecretString::from(""),
        ..common::config("http://127.0.0.1:1/bank", 1_000)
    };
    assert_refused_naming(config, "request_secret");
}

/// Asserts that the adapter refuses `config` when it is built, naming `key`.
fn assert_refused_naming(config: adapter_bank_transfer::BankTransferConfig, key: &str) {
    let refused = adapter_bank_transfer::BankTransferAdapter::new(config).err();
    assert!(
        refused.as_ref().is_some_and(|error| error.to_string().contains(key)),
        "{key}: {refused:?}"
    );
}

/// A 422 whose body carries no bank error code (a page from a firewall in front of the bank, a
/// body of another shape) says nothing the bank said: it is a bare `http_422`, which fails a
/// first attempt but, after an attempt the bank may have booked, is asked about (README,
/// invariant 3). It was `invalid_request`, the bank's own refusal, which failed the payment
/// whatever came before — and upstream could then pay again what the bank had booked.
#[tokio::test]
async fn a_422_without_the_banks_error_code_is_a_bare_http_status() {
    for answer in [
        ResponseTemplate::new(422),
        ResponseTemplate::new(422).set_body_string("<html>request blocked</html>"),
        ResponseTemplate::new(422).set_body_json(serde_json::json!({"code": "E42", "detail": "no"})),
    ] {
        let result = submit_answered_with(answer).await;
        assert!(
            matches!(&result, Err(AdapterError::Permanent { code, .. }) if code == "http_422"),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_409_says_the_bank_already_holds_our_key_so_it_leads_to_an_inquiry_not_a_failure() {
    // On a resubmit after a 5xx or a timeout the first transfer may have been booked: only
    // a status inquiry can tell, so a 409 must never fail the payment.
    let body = serde_json::json!({"error_code": "IDEMPOTENCY_CONFLICT", "message": "NGUYEN VAN AN 0011004455667"});
    for answer in [
        ResponseTemplate::new(409).set_body_json(body),
        ResponseTemplate::new(409),
    ] {
        let result = submit_answered_with(answer).await;
        assert!(
            matches!(&result, Err(AdapterError::UnknownOutcome { message })
                if message.contains("409") && !message.contains(common::ACCOUNT) && !message.contains("NGUYEN")),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn unavailable_and_rate_limited_answers_are_transient() {
    let unavailable = submit_answered_with(ResponseTemplate::new(503)).await;
    assert!(
        matches!(&unavailable, Err(AdapterError::Transient { code, .. }) if code == "http_503"),
        "{unavailable:?}"
    );
    let limited = submit_answered_with(ResponseTemplate::new(429).insert_header("retry-after", "7")).await;
    assert!(
        matches!(&limited, Err(AdapterError::Transient { code, retry_after, .. })
            if code == "http_429" && *retry_after == Some(Duration::from_secs(7))),
        "{limited:?}"
    );
}

#[tokio::test]
async fn a_submit_that_times_out_is_an_unknown_outcome() {
    let server = bank().await;
    let slow = ResponseTemplate::new(202)
        .set_body_json(accepted("PROCESSING"))
        .set_delay(Duration::from_millis(1_500));
    answer_submit(&server, slow).await;
    let result = adapter(&base_url(&server), 200).submit(&payout(PAYMENT, ORDER)).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
}

#[tokio::test]
async fn a_refused_connection_is_transient_because_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    drop(listener);
    let result = adapter(&format!("http://{address}/bank"), 1_000)
        .submit(&payout(PAYMENT, ORDER))
        .await;
    assert!(
        matches!(&result, Err(AdapterError::Transient { code, .. }) if code == "provider_unreachable"),
        "{result:?}"
    );
}

#[tokio::test]
async fn two_submits_of_one_payment_carry_the_same_idempotency_key() {
    let server = bank().await;
    answer_submit(&server, ResponseTemplate::new(503)).await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(PAYMENT, ORDER);
    let _first = adapter.submit(&request).await;
    let _second = adapter.submit(&request).await;
    let requests = server.received_requests().await.expect("recording is on");
    let keys: Vec<_> = requests
        .iter()
        .map(|sent| sent.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].as_ref().and_then(|k| k.to_str().ok()), Some(PAYMENT));
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn status_404_means_the_bank_never_received_the_payment() {
    let status = query_answered_with(
        ResponseTemplate::new(404).set_body_json(serde_json::json!({"error_code": "TRANSFER_NOT_FOUND"})),
    )
    .await;
    assert_eq!(status, Ok(ProviderStatus::NotFound));
}

/// A 404 that is not the bank's "no such transfer" (a load balancer's, a maintenance page's)
/// says nothing about the payment: taken as "never received", it led to a resubmit.
#[tokio::test]
async fn a_404_without_the_banks_code_is_not_taken_as_never_received() {
    for body in [
        ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
        ResponseTemplate::new(404).set_body_json(serde_json::json!({"error_code": "ROUTE_NOT_FOUND"})),
    ] {
        let status = query_answered_with(body).await;
        assert!(matches!(status, Err(AdapterError::Transient { .. })), "{status:?}");
    }
}

/// A status answer about another transfer (a bank bug, a mis-keyed cache) is never taken as
/// this payment's, even with the same amount (allowances of one batch often are).
#[tokio::test]
async fn a_status_about_another_transfer_is_never_taken_as_this_payments() {
    let status = query_answered_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "transfer_id": "FT0009", "client_reference": "pay_someone_else", "status": "FAILED",
        "reason_code": "ACCOUNT_CLOSED", "amount": 2_789_000
    })))
    .await;
    assert!(
        matches!(status, Err(AdapterError::Transient { ref code, .. }) if code == "provider_bad_answer"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_status_with_another_amount_is_never_taken_as_paid() {
    let status = query_answered_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "transfer_id": "FT0001", "client_reference": PAYMENT, "status": "COMPLETED",
        "reason_code": null, "amount": 27_890_000
    })))
    .await;
    assert!(matches!(status, Err(AdapterError::UnknownOutcome { .. })), "{status:?}");
}

#[tokio::test]
async fn a_final_status_without_an_amount_is_never_taken_as_paid_or_failed() {
    for status in ["COMPLETED", "FAILED"] {
        let result = query_answered_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "transfer_id": "FT0001", "client_reference": PAYMENT, "status": status, "reason_code": null
        })))
        .await;
        assert!(
            matches!(result, Err(AdapterError::UnknownOutcome { .. })),
            "{status}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_status_answer_of_the_wrong_shape_does_not_quote_the_bank_in_the_error() {
    let result = query_answered_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "transfer_id": 84981234567_u64, "client_reference": "NGUYEN VAN AN", "status": "COMPLETED",
        "amount": 2_789_000
    })))
    .await;
    let Err(error) = result else {
        panic!("an unreadable answer is an error, got {result:?}");
    };
    let text = error.to_string();
    assert!(!text.contains("84981234567") && !text.contains("NGUYEN"), "{text}");
}

#[tokio::test]
async fn name_inquiry_returns_the_holder_and_404_is_account_not_found() {
    let server = bank().await;
    Mock::given(method("POST"))
        .and(path("/bank/v1/name-inquiry"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"account_name": "NGUYEN VAN AN"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bank/v1/name-inquiry"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({"error_code": "ACCOUNT_NOT_FOUND"})))
        .mount(&server)
        .await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(PAYMENT, ORDER);
    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));
    let missing = adapter.name_inquiry(&request).await;
    assert!(
        matches!(&missing, Err(AdapterError::Permanent { code, message })
            if code == "account_not_found" && !message.contains(common::ACCOUNT)),
        "{missing:?}"
    );
}

/// A 404 to a name inquiry without the bank's `ACCOUNT_NOT_FOUND` (a load balancer's) says
/// nothing about the account: asked again, not failed as a closed door.
#[tokio::test]
async fn a_name_inquiry_404_without_the_banks_code_is_asked_again() {
    let server = bank().await;
    Mock::given(method("POST"))
        .and(path("/bank/v1/name-inquiry"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"))
        .mount(&server)
        .await;
    let answer = adapter(&base_url(&server), 2_000)
        .name_inquiry(&payout(PAYMENT, ORDER))
        .await;
    assert!(
        matches!(&answer, Err(AdapterError::Transient { code, .. }) if code == "provider_bad_answer"),
        "{answer:?}"
    );
}

// --- Standard Webhooks -------------------------------------------------------------------

/// The Standard Webhooks specification's published test vector.
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn webhook_headers(id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature.to_string()),
    ] {
        headers.insert(name, value.parse().expect("a valid header value"));
    }
    headers
}

fn offline_adapter() -> adapter_bank_transfer::BankTransferAdapter {
    adapter("http://127.0.0.1:9/bank", 1_000)
}

#[test]
fn the_published_standard_webhooks_vector_verifies() {
    let headers = webhook_headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
    assert_eq!(
        offline_adapter().verify_callback(&headers, VECTOR_BODY, VECTOR_TIMESTAMP + 10),
        Ok(())
    );
}

#[test]
fn a_signature_list_verifies_if_any_entry_matches_and_rotation_keeps_old_secrets() {
    let list = format!("v1,AAAA v2,zzzz {VECTOR_SIGNATURE}");
    let headers = webhook_headers(VECTOR_ID, VECTOR_TIMESTAMP, &list);
    let mut config = common::config("http://127.0.0.1:9/bank", 1_000);
    config.webhook_secrets = vec![
        "whsec_bmV3LXNlY3JldC1hZnRlci1yb3RhdGlvbg==".to_string().into(),
        WEBHOOK_SECRET.to_string().into(),
    ];
    let rotated = adapter_bank_transfer::BankTransferAdapter::new(config).expect("a valid rotated config");
    assert_eq!(rotated.verify_callback(&headers, VECTOR_BODY, VECTOR_TIMESTAMP), Ok(()));
}

#[test]
fn a_forged_signature_is_refused() {
    let forged = adapter_bank_transfer::WebhookSecret::from_bytes(b"attacker".to_vec()).sign(
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
    );
    let headers = webhook_headers(VECTOR_ID, VECTOR_TIMESTAMP, &forged);
    assert_eq!(
        offline_adapter().verify_callback(&headers, VECTOR_BODY, VECTOR_TIMESTAMP),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn a_stale_timestamp_is_refused_even_with_a_valid_signature() {
    let headers = webhook_headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
    assert_eq!(
        offline_adapter().verify_callback(&headers, VECTOR_BODY, VECTOR_TIMESTAMP + 301),
        Err(CallbackError::StaleTimestamp)
    );
}

#[test]
fn a_replayed_signature_on_another_body_is_refused() {
    let headers = webhook_headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
    assert_eq!(
        offline_adapter().verify_callback(&headers, br#"{"test": 1}"#, VECTOR_TIMESTAMP),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn a_callback_without_signature_headers_is_refused() {
    assert_eq!(
        offline_adapter().verify_callback(&http::HeaderMap::new(), VECTOR_BODY, VECTOR_TIMESTAMP),
        Err(CallbackError::MissingSignature)
    );
}

#[test]
fn a_verified_transfer_callback_parses_into_a_succeeded_event() {
    let body = serde_json::json!({"type": "transfer.completed", "data": {
        "transfer_id": "FT0001", "client_reference": PAYMENT, "end_to_end_id": ORDER,
        "amount": 2_789_000, "status": "COMPLETED", "reason_code": null}})
    .to_string();
    let secret = adapter_bank_transfer::WebhookSecret::parse(WEBHOOK_SECRET).expect("a whsec secret");
    let signature = secret.sign("msg_1", FIXED_NOW, body.as_bytes());
    let headers = webhook_headers("msg_1", FIXED_NOW, &signature);
    let adapter = offline_adapter();
    assert_eq!(adapter.verify_callback(&headers, body.as_bytes(), FIXED_NOW), Ok(()));
    let event = adapter
        .parse_callback(&headers, body.as_bytes())
        .expect("a well-formed callback");
    assert_eq!(event.event_id, "msg_1");
    assert_eq!(event.payment_id, PaymentId::from_stored(PAYMENT));
    assert_eq!(event.amount, Vnd::new(2_789_000));
    assert_eq!(
        event.status,
        ProviderStatus::Succeeded {
            provider_ref: Some("FT0001".into())
        }
    );
}

fn signed_callback(body: &serde_json::Value) -> (http::HeaderMap, Vec<u8>) {
    let body = body.to_string().into_bytes();
    let secret = adapter_bank_transfer::WebhookSecret::parse(WEBHOOK_SECRET).expect("a whsec secret");
    let signature = secret.sign("msg_2", FIXED_NOW, &body);
    (webhook_headers("msg_2", FIXED_NOW, &signature), body)
}

#[test]
fn a_callback_with_a_zero_negative_fractional_or_missing_amount_reports_no_amount() {
    let adapter = offline_adapter();
    for amount in [
        Some(serde_json::json!(0)),
        Some(serde_json::json!(-2_789_000)),
        Some(serde_json::json!(2_789_000.5)),
        Some(serde_json::json!("a lot")),
        Some(serde_json::Value::Null),
        None,
    ] {
        let mut body = serde_json::json!({"type": "transfer.completed", "data": {
            "transfer_id": "FT0001", "client_reference": PAYMENT, "end_to_end_id": ORDER,
            "status": "COMPLETED", "reason_code": null}});
        if let Some(amount) = &amount {
            body["data"]["amount"] = amount.clone();
        }
        let (headers, body) = signed_callback(&body);
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
fn a_malformed_callback_is_refused_without_quoting_the_bank() {
    let body = serde_json::json!({"type": "transfer.completed", "data": {
        "transfer_id": "FT0001", "client_reference": PAYMENT, "end_to_end_id": 84981234567_u64,
        "amount": 2_789_000, "status": "COMPLETED", "reason_code": "NGUYEN VAN AN"}});
    let (headers, body) = signed_callback(&body);
    let adapter = offline_adapter();
    assert_eq!(adapter.verify_callback(&headers, &body, FIXED_NOW), Ok(()));
    let refused = adapter.parse_callback(&headers, &body);
    assert!(
        matches!(&refused, Err(CallbackError::Malformed(message))
            if !message.contains("84981234567") && !message.contains("NGUYEN")),
        "{refused:?}"
    );
}
