//! The real adapter against the Post Office sandbox on 127.0.0.1: account inquiry, idempotent
//! payouts, a timeout after booking, refusals, and callbacks the adapter verifies.

mod common;

use std::time::Duration;

use adapter_vnpost_account::{system_now, VnpostAccountAdapter, VnpostSandbox, VnpostSandboxConfig};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::{adapter, payout, ACCOUNT, SECRET};
use gateway_adapter::{
    AccountNumber, AdapterError, Destination, PaymentId, PayoutAdapter, PayoutRequest, ProviderStatus, Vnd,
};
use sandbox_kit::{admin_router, SandboxKit, SharedKit};
use secrecy::SecretString;
use tokio::sync::mpsc;

const CLOSED_ACCOUNT: &str = "8800999888777";

/// A running sandbox: its base URL, its kit, and the callbacks it delivered.
struct Running {
    root: String,
    kit: SharedKit,
    callbacks: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
    http: reqwest::Client,
}

impl Running {
    fn vnpost_url(&self) -> String {
        format!("{}/vnpost", self.root)
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: serde_json::Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.root))
            .json(&body)
            .send()
            .await
            .expect("the admin API answers");
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }

    async fn set_faults(&self, faults: serde_json::Value) {
        self.admin(reqwest::Method::PUT, "/sandbox/faults/vnpost_account", faults)
            .await;
    }

    async fn next_callback(&mut self) -> (HeaderMap, Bytes) {
        tokio::time::timeout(Duration::from_secs(5), self.callbacks.recv())
            .await
            .expect("a callback arrives within 5 s")
            .expect("the callback channel is open")
    }
}

async fn receive_callback(
    State(sender): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<serde_json::Value> {
    let _ = sender.send((headers, body));
    axum::Json(serde_json::json!({"result_code": "00"}))
}

/// Serves the sandbox as the gateway does (VNPost under `/vnpost`, admin at the root) plus a
/// callback receiver, with one open account and one closed account registered.
async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let root = format!("http://{}", listener.local_addr().expect("a bound address"));
    let kit = SandboxKit::shared();
    let sandbox = VnpostSandbox::new(
        VnpostSandboxConfig {
            secret: SecretString::from(SECRET),
            callback_url: Some(format!("{root}/callbacks/vnpost_account")),
        },
        kit.clone(),
    )
    .expect("a valid sandbox config");
    let (sender, callbacks) = mpsc::unbounded_channel();
    let receiver = Router::new()
        .route("/callbacks/vnpost_account", post(receive_callback))
        .with_state(sender);
    let app = Router::new()
        .nest("/vnpost", sandbox.router())
        .merge(admin_router(kit.clone()))
        .merge(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let running = Running {
        root,
        kit,
        callbacks,
        http: reqwest::Client::new(),
    };
    let accounts = serde_json::json!([
        {"provider": "vnpost_account", "account": ACCOUNT, "holder_name": "Nguyễn Văn An"},
        {"provider": "vnpost_account", "account": CLOSED_ACCOUNT, "holder_name": "LE THI BA", "closed": true}
    ]);
    running
        .admin(reqwest::Method::POST, "/sandbox/accounts", accounts)
        .await;
    running
}

fn to_account(request: &mut PayoutRequest, account: &str) {
    request.destination = Destination::VnpostAccount {
        account_number: AccountNumber::try_from(account).expect("a valid account number"),
    };
}

async fn wait_until_succeeded(adapter: &VnpostAccountAdapter, request: &PayoutRequest) {
    for _ in 0..100 {
        if let Ok(ProviderStatus::Succeeded { .. }) = adapter.query_status(request).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the payout did not complete within 5 s");
}

#[tokio::test]
async fn two_submits_of_one_request_id_book_one_credit_and_the_callback_verifies() {
    let mut sandbox = start().await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);
    let request = payout("pay_round_trip", "order-round-trip");

    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));
    let first = adapter.submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");

    let (headers, body) = sandbox.next_callback().await;
    assert_eq!(adapter.verify_callback(&headers, &body, system_now()), Ok(()));
    let event = adapter
        .parse_callback(&headers, &body)
        .expect("the sandbox sends well-formed callbacks");
    assert_eq!(event.payment_id, PaymentId::from_stored("pay_round_trip"));
    assert_eq!(event.amount, Vnd::new(500_000));
    assert!(matches!(event.status, ProviderStatus::Succeeded { .. }));

    let second = adapter.submit(&request).await;
    assert!(matches!(second, Ok(ProviderStatus::Succeeded { .. })), "{second:?}");
    assert_eq!(sandbox.kit.ledger.credits_for_order("order-round-trip"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn timeout_after_booking_is_unknown_and_the_query_finds_one_credit() {
    let sandbox = start().await;
    sandbox
        .set_faults(serde_json::json!({"timeout_after_booking_next": 1, "hang_ms": 3_000}))
        .await;
    let adapter = adapter(&sandbox.vnpost_url(), 300);
    let request = payout("pay_timeout", "order-timeout");

    let result = adapter.submit(&request).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
    wait_until_succeeded(&adapter, &request).await;
    let again = adapter.submit(&request).await;
    assert!(matches!(again, Ok(ProviderStatus::Succeeded { .. })), "{again:?}");
    assert_eq!(sandbox.kit.ledger.credits_for_order("order-timeout"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn a_duplicated_callback_carries_the_same_event_id() {
    let mut sandbox = start().await;
    sandbox
        .set_faults(serde_json::json!({"duplicate_next_callbacks": 1}))
        .await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);
    let request = payout("pay_duplicate", "order-duplicate");
    adapter.submit(&request).await.expect("accepted");

    let (_, first) = sandbox.next_callback().await;
    let (_, second) = sandbox.next_callback().await;
    // Each delivery is stamped when it goes out, so only the event, not every byte, is the same.
    let headers = HeaderMap::new();
    let first_event = adapter
        .parse_callback(&headers, &first)
        .expect("a well-formed callback");
    let second_event = adapter
        .parse_callback(&headers, &second)
        .expect("a well-formed callback");
    assert_eq!(first_event.event_id, second_event.event_id);
    assert_eq!(adapter.verify_callback(&headers, &second, system_now()), Ok(()));
    assert_eq!(sandbox.kit.ledger.credits_for_order("order-duplicate"), 1);
}

#[tokio::test]
async fn refused_payouts_book_nothing() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);

    sandbox.set_faults(serde_json::json!({"fail_next_submits": 1})).await;
    let unavailable = adapter.submit(&payout("pay_503", "order-503")).await;
    assert!(
        matches!(&unavailable, Err(AdapterError::Transient { code, .. }) if code == "http_503"),
        "{unavailable:?}"
    );
    sandbox.set_faults(serde_json::json!({"error_429_rate": 1.0})).await;
    let limited = adapter.submit(&payout("pay_429", "order-429")).await;
    assert!(
        matches!(&limited, Err(AdapterError::Transient { code, retry_after, .. })
            if code == "http_429" && *retry_after == Some(Duration::from_secs(1))),
        "{limited:?}"
    );
    sandbox.set_faults(serde_json::json!({})).await;

    let mut closed = payout("pay_closed", "order-closed");
    to_account(&mut closed, CLOSED_ACCOUNT);
    closed.beneficiary.full_name = "Lê Thị Ba".into();
    assert_eq!(adapter.name_inquiry(&closed).await, Ok(Some("LE THI BA".into())));
    let refused = adapter.submit(&closed).await;
    assert!(
        matches!(&refused, Err(AdapterError::Permanent { code, .. }) if code == "account_closed"),
        "{refused:?}"
    );

    let mut someone_else = payout("pay_identity", "order-identity");
    someone_else.beneficiary.full_name = "Nguyễn Văn Anh".into();
    let mismatch = adapter.submit(&someone_else).await;
    assert!(
        matches!(&mismatch, Err(AdapterError::Permanent { code, .. }) if code == "identity_mismatch"),
        "{mismatch:?}"
    );

    let mut too_much = payout("pay_limit", "order-limit");
    too_much.amount = Vnd::new(100_000_001).expect("a positive amount");
    let over = adapter.submit(&too_much).await;
    assert!(
        matches!(&over, Err(AdapterError::Permanent { code, .. }) if code == "amount_over_limit"),
        "{over:?}"
    );

    let mut unknown = payout("pay_unknown", "order-unknown");
    to_account(&mut unknown, "8800000000001");
    let missing = adapter.submit(&unknown).await;
    assert!(
        matches!(&missing, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{missing:?}"
    );
    let inquiry = adapter.name_inquiry(&unknown).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{inquiry:?}"
    );

    assert!(sandbox.kit.ledger.entries().is_empty());
    assert_eq!(
        adapter.query_status(&payout("pay_503", "order-503")).await,
        Ok(ProviderStatus::NotFound)
    );
}

#[tokio::test]
async fn the_same_request_id_with_another_amount_leads_to_an_inquiry_that_never_fails_the_payment() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);
    let request = payout("pay_conflict", "order-conflict");
    adapter.submit(&request).await.expect("accepted");
    let mut changed = request.clone();
    changed.amount = Vnd::new(1_000_000).expect("a positive amount");
    let conflict = adapter.submit(&changed).await;
    assert!(
        matches!(conflict, Err(AdapterError::UnknownOutcome { .. })),
        "{conflict:?}"
    );
    // The query finds a payout under this request_id for another amount: not paid, not failed.
    let inquiry = adapter.query_status(&changed).await;
    assert!(
        matches!(inquiry, Err(AdapterError::UnknownOutcome { .. })),
        "{inquiry:?}"
    );
    let entries = sandbox.kit.ledger.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, 500_000);
}

fn ten_minutes_from_now() -> i64 {
    system_now() + 600
}

#[tokio::test]
async fn a_payout_resent_long_after_a_timeout_is_the_same_request_and_pays_once() {
    let sandbox = start().await;
    sandbox
        .set_faults(serde_json::json!({"timeout_after_booking_next": 1, "hang_ms": 3_000}))
        .await;
    let request = payout("pay_resent", "order-resent");
    let first = adapter(&sandbox.vnpost_url(), 300).submit(&request).await;
    assert!(matches!(first, Err(AdapterError::UnknownOutcome { .. })), "{first:?}");

    // The resend goes out later than the request window of a signed timestamp would allow.
    let later = adapter(&sandbox.vnpost_url(), 2_000).with_clock(ten_minutes_from_now);
    let resent = later.submit(&request).await;
    assert!(
        matches!(
            resent,
            Ok(ProviderStatus::Pending { .. } | ProviderStatus::Succeeded { .. })
        ),
        "{resent:?}"
    );
    wait_until_succeeded(&adapter(&sandbox.vnpost_url(), 2_000), &request).await;
    assert_eq!(sandbox.kit.ledger.credits_for_order("order-resent"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn a_client_with_the_wrong_secret_is_refused_and_books_nothing() {
    let sandbox = start().await;
    let mut wrong = common::config(&sandbox.vnpost_url(), 2_000);
    wrong.secret = SecretString::from("not-the-shared-secret");
    let impostor = VnpostAccountAdapter::new(wrong).expect("a valid config");
    let request = payout("pay_forged", "order-forged");

    // VNPost answers 20, signed with the real secret: the impostor cannot verify the answer,
    // so a payout is an unknown outcome and a read names the likely cause.
    let refused = impostor.submit(&request).await;
    assert!(
        matches!(refused, Err(AdapterError::UnknownOutcome { .. })),
        "{refused:?}"
    );
    let read = impostor.query_status(&request).await;
    assert!(
        matches!(&read, Err(AdapterError::Transient { code, .. }) if code == "provider_auth_failed"),
        "{read:?}"
    );
    assert!(sandbox.kit.ledger.entries().is_empty());
}

async fn wait_until_done(sandbox: &Running, request: &PayoutRequest) {
    wait_until_succeeded(&adapter(&sandbox.vnpost_url(), 2_000), request).await;
}

#[tokio::test]
async fn a_reused_request_id_with_the_same_amount_but_another_order_citizen_name_or_account_is_a_conflict() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);
    let request = payout("pay_reused", "order-reused");
    adapter.submit(&request).await.expect("the first is accepted");
    wait_until_done(&sandbox, &request).await;

    let mut other_order = request.clone();
    other_order.order_id = "order-someone-else".into();
    let mut other_citizen = request.clone();
    other_citizen.beneficiary.id = gateway_adapter::CitizenId::try_from("034187009999").expect("a valid citizen id");
    let mut other_name = request.clone();
    other_name.beneficiary.full_name = "Trần Thị Bình".into();
    let mut other_account = request.clone();
    to_account(&mut other_account, CLOSED_ACCOUNT);
    for (what, changed) in [
        ("order_ref", other_order),
        ("citizen_id", other_citizen),
        ("beneficiary_name", other_name),
        ("account_no", other_account),
    ] {
        let answer = adapter.submit(&changed).await;
        assert!(
            matches!(answer, Err(AdapterError::UnknownOutcome { .. })),
            "another {what} under the same request_id: {answer:?}"
        );
    }
    let entries = sandbox.kit.ledger.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].order_ref, "order-reused");
    // The exact same payout still gets the original answer.
    let replayed = adapter.submit(&request).await;
    assert!(matches!(replayed, Ok(ProviderStatus::Succeeded { .. })), "{replayed:?}");
}

#[tokio::test]
async fn a_retry_with_its_content_cut_differently_is_the_same_payout() {
    let sandbox = start().await;
    let request = payout("pay_retried", "order-retried");
    let first = adapter(&sandbox.vnpost_url(), 2_000).submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");

    // The memo cut at another length after a config change, sent later.
    let mut changed = common::config(&sandbox.vnpost_url(), 2_000);
    changed.memo_max_chars = 10;
    let later = VnpostAccountAdapter::new(changed)
        .expect("a valid config")
        .with_clock(ten_minutes_from_now);
    let retried = later.submit(&request).await;
    assert!(
        matches!(
            retried,
            Ok(ProviderStatus::Pending { .. } | ProviderStatus::Succeeded { .. })
        ),
        "{retried:?}"
    );
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

/// The `event_id` and the unix time of the `timestamp` of a callback body.
fn event_and_time(body: &[u8]) -> (String, i64) {
    let fields: serde_json::Value = serde_json::from_slice(body).expect("a JSON callback");
    let event_id = fields["event_id"].as_str().expect("an event_id").to_string();
    let stamped = fields["timestamp"]
        .as_str()
        .and_then(adapter_vnpost_account::signing::parse_timestamp)
        .expect("a yyyyMMddHHmmss timestamp");
    (event_id, stamped)
}

#[tokio::test]
async fn a_delayed_callback_is_stamped_when_it_is_delivered_and_a_duplicate_keeps_its_event_id() {
    // `timestamp` is whole seconds: a delay over a second always crosses one.
    const DELAY_MS: u64 = 1_100;
    let mut sandbox = start().await;
    sandbox
        .set_faults(serde_json::json!({
            "callback_delay_ms": DELAY_MS, "complete_after_ms": 0, "duplicate_next_callbacks": 1
        }))
        .await;
    let adapter = adapter(&sandbox.vnpost_url(), 2_000);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    adapter
        .submit(&payout("pay_delayed", "order-delayed"))
        .await
        .expect("accepted");
    let delay_ended = (before + Duration::from_millis(DELAY_MS)).as_secs() as i64;

    let (_, first) = sandbox.next_callback().await;
    let (_, second) = sandbox.next_callback().await;
    let (first_event, first_stamp) = event_and_time(&first);
    let (second_event, second_stamp) = event_and_time(&second);
    for stamped in [first_stamp, second_stamp] {
        assert!(
            stamped >= delay_ended,
            "stamped {stamped}, before the delay ended at {delay_ended}"
        );
    }
    assert_eq!(first_event, second_event);
    for body in [&first, &second] {
        assert_eq!(adapter.verify_callback(&HeaderMap::new(), body, system_now()), Ok(()));
    }
}
