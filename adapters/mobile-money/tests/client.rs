//! The mobile-money adapter against a `wiremock` wallet provider: request shape and
//! signature, the classification of every `resultCode` and HTTP answer, and IPN verification.

mod common;

use std::time::Duration;

use adapter_mobile_money::{ConfigError, MobileMoneyAdapter};
use common::{adapter, config, payout, signed, FIXED_NOW, PARTNER_CODE, WALLET};
use gateway_adapter::{
    AdapterError, CallbackError, Channel, PaymentId, PayoutAdapter, ProviderStatus, Vnd, WalletProvider,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAYMENT: &str = "pay_01J9Z8ZKQ2";
const ORDER: &str = "ORD-2026-11-000123";
const TRANS_ID: u64 = 2_890_001_234_567;

/// A provider mounted under `/wallet/viettel_money`, as the sandbox is.
fn base_url(server: &MockServer) -> String {
    format!("{}/wallet/viettel_money", server.uri())
}

async fn answer(server: &MockServer, endpoint: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/wallet/viettel_money{endpoint}")))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A signed disbursement answer about exactly our payout.
fn pay_answer(result_code: i64) -> Value {
    signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER, "amount": 500_000,
        "transId": TRANS_ID, "resultCode": result_code, "message": "…",
        "responseTime": 1_767_225_600_123_i64
    }))
}

async fn submit_answered_with(response: ResponseTemplate) -> Result<ProviderStatus, AdapterError> {
    let server = MockServer::start().await;
    answer(&server, "/v2/disbursement/pay", response).await;
    adapter(&base_url(&server), 2_000).submit(&payout(PAYMENT, ORDER)).await
}

async fn submit_answered_with_code(result_code: i64) -> Result<ProviderStatus, AdapterError> {
    submit_answered_with(ResponseTemplate::new(200).set_body_json(pay_answer(result_code))).await
}

async fn query_answered_with(body: Value) -> Result<ProviderStatus, AdapterError> {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/disbursement/query",
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

fn assert_unknown(result: &Result<ProviderStatus, AdapterError>) {
    assert!(
        matches!(result, Err(AdapterError::UnknownOutcome { .. })),
        "expected UnknownOutcome, got {result:?}"
    );
}

async fn sent_bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect()
}

// --- Request shape and signature ---------------------------------------------------------

#[tokio::test]
async fn submit_sends_the_documented_body_signed_over_the_sorted_fields() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/disbursement/pay",
        ResponseTemplate::new(200).set_body_json(pay_answer(1000)),
    )
    .await;
    adapter(&base_url(&server), 2_000)
        .submit(&payout(PAYMENT, ORDER))
        .await
        .expect("the provider accepted the disbursement");

    let bodies = sent_bodies(&server).await;
    assert_eq!(bodies.len(), 1);
    // HMAC-SHA256("test-wallet-secret", "amount=500000&beneficiaryName=NGUYEN VAN AN&ipnUrl=
    // http://127.0.0.1:8080/callbacks/viettel_money&lang=vi&orderId=ORD-2026-11-000123&
    // orderInfo=Tro cap xa hoi thang 11/2026 Dong Hoa&partnerCode=GWTEST01&requestId=
    // pay_01J9Z8ZKQ2&requestType=disburseToWallet&walletId=0981234567"), computed with
    // Python's `hmac`, independently of this crate.
    let expected = r#"{"partnerCode":"GWTEST01","requestId":"pay_01J9Z8ZKQ2","orderId":"ORD-2026-11-000123","amount":500000,"walletId":"0981234567","beneficiaryName":"NGUYEN VAN AN","orderInfo":"Tro cap xa hoi thang 11/2026 Dong Hoa","ipnUrl":"http://127.0.0.1:8080/callbacks/viettel_money","requestType":"disburseToWallet","lang":"vi","signature":"760ec72313ad41976c02835c4941624cd55744552999c483c151ed2bf070ee52"}"#;
    assert_eq!(bodies[0], expected);
}

#[tokio::test]
async fn status_query_and_wallet_inquiry_send_signed_bodies_of_the_documented_shape() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/disbursement/query",
        ResponseTemplate::new(200).set_body_json(signed(json!({"resultCode": 1010}))),
    )
    .await;
    answer(
        &server,
        "/v2/wallet/inquiry",
        ResponseTemplate::new(200).set_body_json(signed(json!({
            "resultCode": 0, "walletId": WALLET, "walletName": "NGUYEN VAN AN"
        }))),
    )
    .await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(PAYMENT, ORDER);
    assert_eq!(adapter.query_status(&request).await, Ok(ProviderStatus::NotFound));
    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));
    // Both signatures computed with Python's `hmac` over the sorted fields; the inquiry's
    // requestId is "inq_" + the first 28 hex digits of SHA-256("pay_01J9Z8ZKQ2").
    assert_eq!(
        sent_bodies(&server).await,
        vec![
            r#"{"partnerCode":"GWTEST01","requestId":"pay_01J9Z8ZKQ2","lang":"vi","signature":"1d0f25e10b7eb1722bb9e5a229dc199ae433fe62a907864a3cf348f066c31c7f"}"#.to_string(),
            r#"{"partnerCode":"GWTEST01","requestId":"inq_88ae7e7e517bc8545062d8c973f8","walletId":"0981234567","lang":"vi","signature":"b2d12ca9780722d23f4a3b4e13ef5c07e259d3790ee25d2e5c16516eaf95f144"}"#.to_string(),
        ]
    );
}

#[tokio::test]
async fn two_submits_of_one_payment_carry_the_same_request_id_and_body() {
    let server = MockServer::start().await;
    answer(&server, "/v2/disbursement/pay", ResponseTemplate::new(503)).await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(PAYMENT, ORDER);
    let _first = adapter.submit(&request).await;
    let _second = adapter.submit(&request).await;
    let bodies = sent_bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    let request_id = |body: &str| {
        serde_json::from_str::<Value>(body).expect("JSON")["requestId"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(request_id(&bodies[0]).as_deref(), Some(PAYMENT));
    assert_eq!(request_id(&bodies[0]), request_id(&bodies[1]));
    assert_eq!(bodies[0], bodies[1]);
}

// --- Disbursement answers ----------------------------------------------------------------

#[tokio::test]
async fn result_code_0_is_succeeded_with_the_transaction_id() {
    assert_eq!(
        submit_answered_with_code(0).await,
        Ok(ProviderStatus::Succeeded {
            provider_ref: Some(TRANS_ID.to_string())
        })
    );
}

#[tokio::test]
async fn result_code_1000_is_pending() {
    assert_eq!(
        submit_answered_with_code(1000).await,
        Ok(ProviderStatus::Pending {
            provider_ref: Some(TRANS_ID.to_string())
        })
    );
}

#[tokio::test]
async fn http_422_with_7000_is_an_unknown_outcome_never_a_failure() {
    let body = signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "resultCode": 7000,
        "message": "processing", "responseTime": 1_767_225_600_123_i64
    }));
    let result = submit_answered_with(ResponseTemplate::new(422).set_body_json(body)).await;
    assert_unknown(&result);
}

#[tokio::test]
async fn result_code_1001_partner_balance_is_transient() {
    assert_transient(&submit_answered_with_code(1001).await, "provider_insufficient_funds");
}

#[tokio::test]
async fn result_code_1002_wallet_not_found_is_permanent() {
    assert_permanent(&submit_answered_with_code(1002).await, "account_not_found");
}

#[tokio::test]
async fn result_code_1003_wallet_locked_is_permanent() {
    assert_permanent(&submit_answered_with_code(1003).await, "account_closed");
}

#[tokio::test]
async fn result_code_1004_monthly_limit_is_permanent() {
    assert_permanent(&submit_answered_with_code(1004).await, "wallet_monthly_limit");
}

#[tokio::test]
async fn result_code_11_access_denied_is_transient() {
    assert_transient(&submit_answered_with_code(11).await, "provider_auth_failed");
}

#[tokio::test]
async fn result_code_13_authentication_failed_is_transient() {
    assert_transient(&submit_answered_with_code(13).await, "provider_auth_failed");
}

#[tokio::test]
async fn result_code_20_bad_format_is_permanent() {
    assert_permanent(&submit_answered_with_code(20).await, "invalid_request");
}

#[tokio::test]
async fn result_code_40_says_the_provider_already_holds_our_request_id_so_it_leads_to_an_inquiry() {
    // On a resubmit after a 5xx or a timeout the first disbursement may have been paid: only
    // a status query can tell, so 40 must never fail the payment.
    let result = submit_answered_with_code(40).await;
    assert!(
        matches!(&result, Err(AdapterError::UnknownOutcome { message }) if message.contains("40")),
        "{result:?}"
    );
}

#[tokio::test]
async fn result_code_98_system_busy_is_transient() {
    assert_transient(&submit_answered_with_code(98).await, "provider_busy");
}

#[tokio::test]
async fn result_code_99_unknown_error_is_an_unknown_outcome() {
    assert_unknown(&submit_answered_with_code(99).await);
}

#[tokio::test]
async fn an_unlisted_result_code_is_an_unknown_outcome() {
    assert_unknown(&submit_answered_with_code(4242).await);
    assert_unknown(&submit_answered_with_code(1006).await);
}

#[tokio::test]
async fn a_success_about_another_amount_or_request_is_never_taken_as_paid() {
    let mut other_amount = pay_answer(0);
    other_amount["amount"] = json!(5_000_000);
    let other_amount = signed(other_amount);
    assert_unknown(&submit_answered_with(ResponseTemplate::new(200).set_body_json(other_amount)).await);
    let mut other_request = pay_answer(0);
    other_request["requestId"] = json!("pay_someone_else");
    let other_request = signed(other_request);
    assert_unknown(&submit_answered_with(ResponseTemplate::new(200).set_body_json(other_request)).await);
    // Success codes only count on a 2xx.
    assert_unknown(&submit_answered_with(ResponseTemplate::new(422).set_body_json(pay_answer(0))).await);
}

#[tokio::test]
async fn a_503_is_transient() {
    let result = submit_answered_with(ResponseTemplate::new(503)).await;
    assert_transient(&result, "http_503");
}

#[tokio::test]
async fn a_429_is_transient_and_keeps_retry_after() {
    let result = submit_answered_with(ResponseTemplate::new(429).insert_header("retry-after", "7")).await;
    assert!(
        matches!(&result, Err(AdapterError::Transient { code, retry_after, .. })
            if code == "http_429" && *retry_after == Some(Duration::from_secs(7))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_submit_that_times_out_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(pay_answer(1000))
        .set_delay(Duration::from_millis(1_500));
    answer(&server, "/v2/disbursement/pay", slow).await;
    let result = adapter(&base_url(&server), 200).submit(&payout(PAYMENT, ORDER)).await;
    assert_unknown(&result);
}

#[tokio::test]
async fn a_refused_connection_is_transient_because_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    drop(listener);
    let result = adapter(&format!("http://{address}/wallet/viettel_money"), 1_000)
        .submit(&payout(PAYMENT, ORDER))
        .await;
    assert_transient(&result, "provider_unreachable");
}

#[tokio::test]
async fn a_submit_answer_with_a_bad_or_missing_signature_is_an_unknown_outcome() {
    let mut forged = pay_answer(0);
    forged["signature"] = json!("00".repeat(32));
    assert_unknown(&submit_answered_with(ResponseTemplate::new(200).set_body_json(forged)).await);
    let mut unsigned = pay_answer(1002);
    unsigned.as_object_mut().expect("an object").remove("signature");
    assert_unknown(&submit_answered_with(ResponseTemplate::new(200).set_body_json(unsigned)).await);
    assert_unknown(&submit_answered_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>")).await);
}

/// An API gateway in front of the wallet answering with JSON of its own, unsigned: classified
/// by its HTTP status, as without a body. (Before, any JSON body was opened as the provider's
/// and found unsigned: a 401 after a credentials rotation was an unknown outcome, and every
/// payment went through status inquiries to review.)
#[tokio::test]
async fn an_unsigned_json_error_page_is_classified_by_its_status() {
    let unsigned = |status: u16, body: Value| ResponseTemplate::new(status).set_body_json(body);
    let result = submit_answered_with(unsigned(401, json!({"error": "invalid token"}))).await;
    assert_transient(&result, "provider_auth_failed");
    let result = submit_answered_with(unsigned(403, json!({"error": "forbidden"}))).await;
    assert_transient(&result, "provider_auth_failed");
    let result = submit_answered_with(unsigned(404, json!({"message": "no route"}))).await;
    assert_permanent(&result, "http_404");
    // A result that should have been signed is still in doubt.
    assert_unknown(&submit_answered_with(unsigned(200, json!({"resultCode": 0}))).await);
    assert_unknown(&submit_answered_with(unsigned(422, json!({"resultCode": 40}))).await);
}

#[tokio::test]
async fn a_wallet_of_another_provider_is_refused_without_calling_anyone() {
    let server = MockServer::start().await;
    let adapter = adapter(&base_url(&server), 2_000);
    let vnpt = common::payout_to(WalletProvider::VnptMoney, WALLET, PAYMENT, ORDER);
    assert_permanent(&adapter.submit(&vnpt).await, "invalid_request");
    assert!(matches!(
        adapter.name_inquiry(&vnpt).await,
        Err(AdapterError::Permanent { code, .. }) if code == "invalid_request"
    ));
    assert!(sent_bodies(&server).await.is_empty());
}

/// A payment id of the real shape: `pay_` + 28 hex digits, 32 characters.
const REAL_PAYMENT: &str = "pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c";

#[tokio::test]
async fn every_request_id_sent_fits_32_characters_and_the_inquiry_id_is_the_same_each_time() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/wallet/inquiry",
        ResponseTemplate::new(200).set_body_json(signed(json!({
            "resultCode": 0, "walletId": WALLET, "walletName": "NGUYEN VAN AN"
        }))),
    )
    .await;
    answer(&server, "/v2/disbursement/pay", ResponseTemplate::new(503)).await;
    answer(&server, "/v2/disbursement/query", ResponseTemplate::new(503)).await;
    let adapter = adapter(&base_url(&server), 2_000);
    let request = payout(REAL_PAYMENT, ORDER);
    adapter.name_inquiry(&request).await.expect("the wallet exists");
    adapter.name_inquiry(&request).await.expect("the wallet exists");
    let _ = adapter.submit(&request).await;
    let _ = adapter.query_status(&request).await;

    let ids: Vec<String> = sent_bodies(&server)
        .await
        .iter()
        .map(|body| {
            serde_json::from_str::<Value>(body).expect("JSON")["requestId"]
                .as_str()
                .expect("every request carries a requestId")
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        assert!(id.len() <= 32, "{id} is {} characters", id.len());
    }
    assert_eq!(ids[0], ids[1], "the inquiry id is deterministic");
    assert_ne!(
        ids[0], REAL_PAYMENT,
        "an inquiry never reuses the disbursement's requestId"
    );
    assert_eq!(&ids[2..], [REAL_PAYMENT, REAL_PAYMENT]);
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_does_not_quote_the_provider_in_the_error() {
    let wrong = signed(json!({
        "resultCode": "NGUYEN VAN AN 0981234567", "requestId": PAYMENT, "amount": 500_000
    }));
    let read = query_answered_with(wrong.clone()).await;
    let write = submit_answered_with(ResponseTemplate::new(200).set_body_json(wrong)).await;
    for result in [read, write] {
        let Err(error) = &result else {
            panic!("an unreadable answer is an error, got {result:?}");
        };
        let text = error.to_string();
        assert!(!text.contains("0981234567") && !text.contains("NGUYEN"), "{text}");
    }
}

// --- Status query ------------------------------------------------------------------------

#[tokio::test]
async fn a_final_query_answer_without_a_positive_amount_is_never_taken_as_paid_or_failed() {
    for (code, amount) in [
        (0, None),
        (1006, None),
        (0, Some(json!(0))),
        (1006, Some(json!(-500_000))),
    ] {
        let mut body = json!({"resultCode": code, "failCode": 1002, "requestId": PAYMENT, "transId": TRANS_ID});
        if let Some(amount) = &amount {
            body["amount"] = amount.clone();
        }
        let status = query_answered_with(signed(body)).await;
        assert_unknown(&status);
    }
    let processing = query_answered_with(signed(json!({"resultCode": 1000, "requestId": PAYMENT}))).await;
    assert!(
        matches!(processing, Ok(ProviderStatus::Pending { .. })),
        "{processing:?}"
    );
}

/// A final answer (paid, or failed after acceptance) that does not name our `requestId` is
/// not this payment's: it could be another payout of the same amount.
#[tokio::test]
async fn a_final_query_answer_without_our_request_id_is_never_taken_as_paid_or_failed() {
    for code in [0, 1006] {
        let status = query_answered_with(signed(json!({
            "resultCode": code, "failCode": 1003, "transId": TRANS_ID, "amount": 500_000
        })))
        .await;
        assert!(
            matches!(&status, Err(AdapterError::Transient { code, .. }) if code == "provider_bad_answer"),
            "{code}: {status:?}"
        );
    }
}

#[tokio::test]
async fn query_1010_means_the_provider_never_received_the_payment() {
    let status = query_answered_with(signed(json!({"resultCode": 1010, "requestId": PAYMENT}))).await;
    assert_eq!(status, Ok(ProviderStatus::NotFound));
}

#[tokio::test]
async fn query_1006_is_failed_with_the_mapped_fail_code() {
    let status = query_answered_with(signed(json!({
        "resultCode": 1006, "failCode": 1003, "requestId": PAYMENT, "transId": TRANS_ID,
        "amount": 500_000
    })))
    .await;
    assert!(
        matches!(&status, Ok(ProviderStatus::Failed { code, .. }) if code == "account_closed"),
        "{status:?}"
    );
}

#[tokio::test]
async fn query_0_is_succeeded_and_1000_pending() {
    let done = query_answered_with(signed(json!({
        "resultCode": 0, "requestId": PAYMENT, "transId": TRANS_ID, "amount": 500_000
    })))
    .await;
    assert_eq!(
        done,
        Ok(ProviderStatus::Succeeded {
            provider_ref: Some(TRANS_ID.to_string())
        })
    );
    let processing = query_answered_with(signed(json!({
        "resultCode": 1000, "requestId": PAYMENT, "transId": TRANS_ID, "amount": 500_000
    })))
    .await;
    assert!(matches!(processing, Ok(ProviderStatus::Pending { .. })));
}

#[tokio::test]
async fn a_query_answer_with_a_bad_signature_is_transient() {
    let mut forged = signed(json!({"resultCode": 0, "requestId": PAYMENT, "amount": 500_000}));
    forged["resultCode"] = json!(1006);
    assert_transient(&query_answered_with(forged).await, "provider_bad_signature");
}

#[tokio::test]
async fn a_query_reporting_another_amount_is_never_taken_as_paid() {
    let status = query_answered_with(signed(json!({
        "resultCode": 0, "requestId": PAYMENT, "transId": TRANS_ID, "amount": 5_000_000
    })))
    .await;
    assert_unknown(&status);
}

// --- Wallet inquiry ----------------------------------------------------------------------

#[tokio::test]
async fn inquiry_1002_and_1003_are_permanent_and_do_not_quote_the_phone_number() {
    for (result_code, expected) in [(1002, "account_not_found"), (1003, "account_closed")] {
        let server = MockServer::start().await;
        answer(
            &server,
            "/v2/wallet/inquiry",
            ResponseTemplate::new(200).set_body_json(signed(json!({"resultCode": result_code}))),
        )
        .await;
        let result = adapter(&base_url(&server), 2_000)
            .name_inquiry(&payout(PAYMENT, ORDER))
            .await;
        assert!(
            matches!(&result, Err(AdapterError::Permanent { code, message })
                if code == expected && !message.contains(WALLET)),
            "{result_code}: {result:?}"
        );
    }
}

// --- Identity and config -----------------------------------------------------------------

#[test]
fn the_adapter_names_its_channel_and_provider_and_acks_with_204() {
    let adapter = adapter("http://127.0.0.1:9/wallet/viettel_money", 1_000);
    assert_eq!(adapter.channel(), Channel::MobileMoney);
    assert_eq!(adapter.provider_key(), "viettel_money");
    assert_eq!(adapter.callback_ack_status(), 204);
    let mobifone = MobileMoneyAdapter::new(WalletProvider::MobifoneMoney, config("http://127.0.0.1:9", 1_000))
        .expect("a valid config");
    assert_eq!(mobifone.provider_key(), "mobifone_money");
}

#[test]
fn a_config_that_could_never_work_is_refused() {
    let mut bad_base = config("api.wallet.example", 1_000);
    assert!(matches!(
        MobileMoneyAdapter::new(WalletProvider::VnptMoney, bad_base.clone()),
        Err(ConfigError::NotAnHttpUrl { key: "base_url" })
    ));
    bad_base.base_url = "https://api.wallet.example".into();
    bad_base.ipn_url = "/callbacks/vnpt_money".into();
    assert!(matches!(
        MobileMoneyAdapter::new(WalletProvider::VnptMoney, bad_base.clone()),
        Err(ConfigError::NotAnHttpUrl { key: "ipn_url" })
    ));
    bad_base.ipn_url = common::IPN_URL.into();
    bad_base.partner_code = " ".into();
    assert!(matches!(
        MobileMoneyAdapter::new(WalletProvider::VnptMoney, bad_base),
        Err(ConfigError::Empty {
            key: "partner_code",
            ..
        })
    ));
}

// --- IPN callbacks -----------------------------------------------------------------------

/// An IPN signed with Python's `hmac` over
/// `amount=500000&message=Successful.&orderId=ORD-2026-11-000123&partnerCode=GWTEST01&
/// requestId=pay_01J9Z8ZKQ2&responseTime=1767225600000&resultCode=0&transId=2890001234567`.
const IPN_VECTOR: &str = r#"{"partnerCode":"GWTEST01","requestId":"pay_01J9Z8ZKQ2","orderId":"ORD-2026-11-000123","amount":500000,"transId":2890001234567,"resultCode":0,"message":"Successful.","responseTime":1767225600000,"signature":"0b3e9f6d0b28eb83945e2527a723929e0c1acfd62ee39c4b29f42bfaa0bee07e"}"#;

fn offline_adapter() -> MobileMoneyAdapter {
    adapter("http://127.0.0.1:9/wallet/viettel_money", 1_000)
}

fn verify(body: &[u8], now: i64) -> Result<(), CallbackError> {
    offline_adapter().verify_callback(&http::HeaderMap::new(), body, now)
}

fn vector_with(change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut ipn: Value = serde_json::from_str(IPN_VECTOR).expect("the vector is JSON");
    change(&mut ipn);
    serde_json::to_vec(&ipn).expect("serialisable")
}

#[test]
fn the_ipn_test_vector_verifies_and_parses_into_a_succeeded_event() {
    assert_eq!(verify(IPN_VECTOR.as_bytes(), FIXED_NOW + 10), Ok(()));
    let event = offline_adapter()
        .parse_callback(&http::HeaderMap::new(), IPN_VECTOR.as_bytes())
        .expect("a well-formed IPN");
    assert_eq!(event.event_id, "2890001234567:0");
    assert_eq!(event.payment_id, PaymentId::from_stored(PAYMENT));
    assert_eq!(event.amount, Vnd::new(500_000));
    assert_eq!(
        event.status,
        ProviderStatus::Succeeded {
            provider_ref: Some("2890001234567".into())
        }
    );
}

#[test]
fn an_ipn_whose_values_changed_after_signing_is_refused() {
    let forged = vector_with(|ipn| ipn["amount"] = json!(5_000_000));
    assert_eq!(verify(&forged, FIXED_NOW), Err(CallbackError::BadSignature));
    let failed_as_paid = vector_with(|ipn| ipn["resultCode"] = json!(1006));
    assert_eq!(verify(&failed_as_paid, FIXED_NOW), Err(CallbackError::BadSignature));
}

#[test]
fn an_ipn_signed_with_another_key_is_refused() {
    let mut ipn: Value = serde_json::from_str(IPN_VECTOR).expect("the vector is JSON");
    let Value::Object(fields) = ipn.take() else {
        panic!("an object");
    };
    let forged = adapter_mobile_money::signing::signed(b"attacker", fields);
    let body = serde_json::to_vec(&forged).expect("serialisable");
    assert_eq!(verify(&body, FIXED_NOW), Err(CallbackError::BadSignature));
}

#[test]
fn a_stale_ipn_is_refused_even_with_a_valid_signature() {
    assert_eq!(verify(IPN_VECTOR.as_bytes(), FIXED_NOW + 300), Ok(()));
    assert_eq!(
        verify(IPN_VECTOR.as_bytes(), FIXED_NOW + 301),
        Err(CallbackError::StaleTimestamp)
    );
    assert_eq!(
        verify(IPN_VECTOR.as_bytes(), FIXED_NOW - 301),
        Err(CallbackError::StaleTimestamp)
    );
}

#[test]
fn an_ipn_without_signature_is_refused() {
    let unsigned = vector_with(|ipn| {
        ipn.as_object_mut().expect("an object").remove("signature");
    });
    assert_eq!(verify(&unsigned, FIXED_NOW), Err(CallbackError::MissingSignature));
    assert!(matches!(
        verify(b"not json", FIXED_NOW),
        Err(CallbackError::Malformed(_))
    ));
}

/// `responseTime` as a string of its digits signs as the number does, so it is taken too.
/// (Before, it verified and then was refused `malformed_callback`, and a wallet sends an IPN
/// once: the payment waited for its status poll.)
#[test]
fn an_ipn_whose_response_time_is_a_string_of_digits_is_taken() {
    let body = serde_json::to_vec(&signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER,
        "amount": 500_000, "transId": TRANS_ID, "resultCode": 0, "message": "Successful.",
        "responseTime": (FIXED_NOW * 1_000).to_string()
    })))
    .expect("serialisable");
    assert_eq!(verify(&body, FIXED_NOW), Ok(()));
    let event = offline_adapter()
        .parse_callback(&http::HeaderMap::new(), &body)
        .expect("a well-formed IPN");
    assert!(matches!(event.status, ProviderStatus::Succeeded { .. }), "{event:?}");
    let stale = serde_json::to_vec(&signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER,
        "amount": 500_000, "transId": TRANS_ID, "resultCode": 0, "message": "Successful.",
        "responseTime": ((FIXED_NOW - 3_600) * 1_000).to_string()
    })))
    .expect("serialisable");
    assert_eq!(verify(&stale, FIXED_NOW), Err(CallbackError::StaleTimestamp));
}

#[test]
fn an_ipn_for_another_partner_code_is_refused_even_when_properly_signed() {
    let other_partner = signed(json!({
        "partnerCode": "SOMEONE_ELSE", "requestId": PAYMENT, "orderId": ORDER,
        "amount": 500_000, "transId": TRANS_ID, "resultCode": 0, "message": "Successful.",
        "responseTime": FIXED_NOW * 1_000
    }));
    let body = serde_json::to_vec(&other_partner).expect("serialisable");
    assert_eq!(verify(&body, FIXED_NOW), Err(CallbackError::BadSignature));
}

#[test]
fn a_failed_ipn_parses_into_a_failed_event_with_its_own_event_id() {
    let body = serde_json::to_vec(&signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER,
        "amount": 500_000, "transId": TRANS_ID, "resultCode": 1006, "failCode": 1002,
        "message": "Transaction failed.", "responseTime": FIXED_NOW * 1_000
    })))
    .expect("serialisable");
    let adapter = offline_adapter();
    assert_eq!(
        adapter.verify_callback(&http::HeaderMap::new(), &body, FIXED_NOW),
        Ok(())
    );
    let event = adapter
        .parse_callback(&http::HeaderMap::new(), &body)
        .expect("a well-formed IPN");
    assert_eq!(event.event_id, format!("{TRANS_ID}:1006"));
    assert!(
        matches!(&event.status, ProviderStatus::Failed { code, .. } if code == "account_not_found"),
        "{:?}",
        event.status
    );
}

#[test]
fn an_ipn_with_a_zero_negative_fractional_or_missing_amount_reports_no_amount() {
    for amount in [
        Some(json!(0)),
        Some(json!(-500_000)),
        Some(json!(500_000.5)),
        Some(json!("a lot")),
        None,
    ] {
        let mut ipn = json!({
            "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER,
            "transId": TRANS_ID, "resultCode": 0, "message": "Successful.",
            "responseTime": FIXED_NOW * 1_000
        });
        if let Some(amount) = &amount {
            ipn["amount"] = amount.clone();
        }
        let body = serde_json::to_vec(&signed(ipn)).expect("serialisable");
        assert_eq!(verify(&body, FIXED_NOW), Ok(()));
        let event = offline_adapter().parse_callback(&http::HeaderMap::new(), &body);
        assert!(
            matches!(&event, Ok(event) if event.amount.is_none()
                && matches!(event.status, ProviderStatus::Succeeded { .. })),
            "{amount:?}: {event:?}"
        );
    }
}

#[test]
fn a_malformed_ipn_is_refused_without_quoting_the_provider() {
    for (field, value) in [
        ("orderId", json!(84981234567_u64)),
        ("transId", json!({"walletName": "NGUYEN VAN AN"})),
    ] {
        let mut ipn = json!({
            "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER, "amount": 500_000,
            "transId": TRANS_ID, "resultCode": 0, "message": "Successful.",
            "responseTime": FIXED_NOW * 1_000
        });
        ipn[field] = value;
        let body = serde_json::to_vec(&signed(ipn)).expect("serialisable");
        assert_eq!(verify(&body, FIXED_NOW), Ok(()));
        let refused = offline_adapter().parse_callback(&http::HeaderMap::new(), &body);
        assert!(
            matches!(&refused, Err(CallbackError::Malformed(message))
                if !message.contains("84981234567") && !message.contains("NGUYEN")),
            "{field}: {refused:?}"
        );
    }
}

#[test]
fn an_ipn_whose_fields_were_shifted_across_a_separator_is_refused() {
    // A genuine failed IPN, signed by the provider.
    let captured = signed(json!({
        "partnerCode": PARTNER_CODE, "requestId": PAYMENT, "orderId": ORDER,
        "amount": 500_000, "transId": TRANS_ID, "resultCode": 1006, "failCode": 1002,
        "message": "Transaction failed.", "responseTime": FIXED_NOW * 1_000
    }));
    assert_eq!(
        verify(&serde_json::to_vec(&captured).expect("serialisable"), FIXED_NOW),
        Ok(())
    );
    // The same signature over another field set: `failCode` folded into `amount`.
    let mut re_minted = captured;
    let fields = re_minted.as_object_mut().expect("an object");
    fields.remove("failCode");
    fields.insert("amount".into(), json!("500000&failCode=1002"));
    let body = serde_json::to_vec(&re_minted).expect("serialisable");
    assert_eq!(verify(&body, FIXED_NOW), Err(CallbackError::BadSignature));
}
