//! The real adapter against the bank sandbox on 127.0.0.1: name inquiry, idempotent
//! submits, a timeout after booking, refusals, and callbacks the adapter verifies.

mod common;

use std::time::Duration;

use adapter_bank_transfer::{system_now, BankSandbox, BankSandboxConfig, BankTransferAdapter};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::{adapter, payout, ACCOUNT, REQUEST_SECRET, WEBHOOK_SECRET};
use gateway_adapter::{AdapterError, PaymentId, PayoutAdapter, ProviderStatus, Vnd};
use sandbox_kit::{admin_router, SandboxKit, SharedKit};
use secrecy::SecretString;
use tokio::sync::mpsc;

/// A running sandbox: its base URL, its kit, and the callbacks it delivered.
struct Running {
    root: String,
    kit: SharedKit,
    callbacks: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
    http: reqwest::Client,
}

impl Running {
    fn bank_url(&self) -> String {
        format!("{}/bank", self.root)
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

    async fn ledger(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/sandbox/ledger", self.root))
            .send()
            .await
            .expect("the admin API answers")
            .json()
            .await
            .expect("the ledger is JSON")
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
) {
    let _ = sender.send((headers, body));
}

/// Serves the sandbox as the gateway does (bank under `/bank`, admin at the root) plus a
/// callback receiver, with one registered open account and one closed account.
async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let root = format!("http://{}", listener.local_addr().expect("a bound address"));
    let kit = SandboxKit::shared();
    let sandbox = BankSandbox::new(
        BankSandboxConfig {
            request_secret: SecretString::from(REQUEST_SECRET),
            webhook_secret: SecretString::from(WEBHOOK_SECRET),
            callback_url: Some(format!("{root}/callbacks/bank_transfer")),
        },
        kit.clone(),
    )
    .expect("a valid sandbox config");
    let (sender, callbacks) = mpsc::unbounded_channel();
    let receiver = Router::new()
        .route("/callbacks/bank_transfer", post(receive_callback))
        .with_state(sender);
    let app = Router::new()
        .nest("/bank", sandbox.router())
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
        {"provider": "bank_transfer", "account": ACCOUNT, "holder_name": "Nguyễn Văn An"},
        {"provider": "bank_transfer", "account": "0099887766", "holder_name": "LE THI BA", "closed": true}
    ]);
    running
        .admin(reqwest::Method::POST, "/sandbox/accounts", accounts)
        .await;
    running
}

async fn wait_until_succeeded(adapter: &BankTransferAdapter, request: &gateway_adapter::PayoutRequest) {
    for _ in 0..100 {
        if let Ok(ProviderStatus::Succeeded { .. }) = adapter.query_status(request).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the transfer did not complete within 5 s");
}

#[tokio::test]
async fn same_idempotency_key_books_one_credit_and_the_callback_verifies() {
    let mut sandbox = start().await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);
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
    assert_eq!(event.amount, Vnd::new(2_789_000));
    assert!(matches!(event.status, ProviderStatus::Succeeded { .. }));

    let second = adapter.submit(&request).await;
    assert!(matches!(second, Ok(ProviderStatus::Succeeded { .. })), "{second:?}");
    let ledger = sandbox.ledger().await;
    assert_eq!(ledger["credits_by_order"]["order-round-trip"], 1);
    assert_eq!(ledger["entries"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn timeout_after_booking_is_unknown_and_the_inquiry_finds_one_credit() {
    let sandbox = start().await;
    let faults = serde_json::json!({"timeout_after_booking_next": 1, "hang_ms": 3_000});
    sandbox
        .admin(reqwest::Method::PUT, "/sandbox/faults/bank_transfer", faults)
        .await;
    let adapter = adapter(&sandbox.bank_url(), 300);
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
async fn refused_submits_book_nothing() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);

    sandbox
        .admin(
            reqwest::Method::PUT,
            "/sandbox/faults/bank_transfer",
            serde_json::json!({"fail_next_submits": 1}),
        )
        .await;
    let unavailable = adapter.submit(&payout("pay_503", "order-503")).await;
    assert!(
        matches!(&unavailable, Err(AdapterError::Transient { code, .. }) if code == "http_503"),
        "{unavailable:?}"
    );

    let mut closed = payout("pay_closed", "order-closed");
    closed.destination = gateway_adapter::Destination::BankAccount {
        bin: gateway_adapter::BankBin::try_from("970415").expect("VietinBank's BIN"),
        account_number: gateway_adapter::AccountNumber::try_from("0099887766").expect("a valid account number"),
        account_name: None,
    };
    assert_eq!(adapter.name_inquiry(&closed).await, Ok(Some("LE THI BA".into())));
    let refused = adapter.submit(&closed).await;
    assert!(
        matches!(&refused, Err(AdapterError::Permanent { code, .. }) if code == "account_closed"),
        "{refused:?}"
    );

    let mut too_much = payout("pay_limit", "order-limit");
    too_much.amount = Vnd::new(500_000_000).expect("a positive amount");
    let over = adapter.submit(&too_much).await;
    assert!(
        matches!(&over, Err(AdapterError::Permanent { code, .. }) if code == "amount_over_limit"),
        "{over:?}"
    );

    assert!(sandbox.kit.ledger.entries().is_empty());
    assert_eq!(
        adapter.query_status(&payout("pay_503", "order-503")).await,
        Ok(ProviderStatus::NotFound)
    );
}

#[tokio::test]
async fn unknown_accounts_and_bad_signatures_are_refused() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);
    let mut unknown = payout("pay_unknown", "order-unknown");
    unknown.destination = gateway_adapter::Destination::BankAccount {
        bin: gateway_adapter::BankBin::try_from("970436").expect("Vietcombank's BIN"),
        account_number: gateway_adapter::AccountNumber::try_from("1234567890").expect("a valid account number"),
        account_name: None,
    };
    let inquiry = adapter.name_inquiry(&unknown).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{inquiry:?}"
    );
    let submitted = adapter.submit(&unknown).await;
    assert!(
        matches!(&submitted, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{submitted:?}"
    );

    let mut wrong = common::config(&sandbox.bank_url(), 2_000);
    wrong.request_secret = SecretString::from("not-the-shared-secret");
    let impostor = BankTransferAdapter::new(wrong).expect("a valid config");
    let refused = impostor.submit(&payout("pay_forged", "order-forged")).await;
    assert!(
        matches!(&refused, Err(AdapterError::Transient { code, .. }) if code == "provider_auth_failed"),
        "{refused:?}"
    );
    assert!(sandbox.kit.ledger.entries().is_empty());
}

#[tokio::test]
async fn the_same_key_with_another_amount_leads_to_an_inquiry_that_never_fails_the_payment() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);
    let request = payout("pay_conflict", "order-conflict");
    let first = adapter.submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");

    let mut changed = request.clone();
    changed.amount = Vnd::new(3_000_000).expect("a positive amount");
    let conflict = adapter.submit(&changed).await;
    assert!(
        matches!(conflict, Err(AdapterError::UnknownOutcome { .. })),
        "{conflict:?}"
    );
    // The inquiry finds a transfer under this key for another amount: still not paid, not failed.
    let inquiry = adapter.query_status(&changed).await;
    assert!(
        matches!(inquiry, Err(AdapterError::UnknownOutcome { .. })),
        "{inquiry:?}"
    );
    let entries = sandbox.kit.ledger.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, 2_789_000);
}

/// `request` paid to `account` at the bank of `bin`.
fn to_account(request: &mut gateway_adapter::PayoutRequest, bin: &str, account: &str) {
    request.destination = gateway_adapter::Destination::BankAccount {
        bin: gateway_adapter::BankBin::try_from(bin).expect("a known BIN"),
        account_number: gateway_adapter::AccountNumber::try_from(account).expect("a valid account number"),
        account_name: None,
    };
}

#[tokio::test]
async fn a_reused_key_with_the_same_amount_but_another_destination_reference_or_name_is_a_conflict() {
    let sandbox = start().await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);
    let request = payout("pay_reused", "order-reused");
    adapter.submit(&request).await.expect("the first is accepted");
    wait_until_succeeded(&adapter, &request).await;

    let mut other_account = request.clone();
    to_account(&mut other_account, "970436", "0099887766");
    let mut other_bin = request.clone();
    to_account(&mut other_bin, "970415", ACCOUNT);
    let mut other_order = request.clone();
    other_order.order_id = "order-someone-else".into();
    let mut other_name = request.clone();
    other_name.beneficiary.full_name = "Trần Thị Bình".into();
    for (what, changed) in [
        ("account", other_account),
        ("BIN", other_bin),
        ("end-to-end id", other_order),
        ("name", other_name),
    ] {
        let answer = adapter.submit(&changed).await;
        assert!(
            matches!(answer, Err(AdapterError::UnknownOutcome { .. })),
            "another {what} under the same key: {answer:?}"
        );
    }
    let entries = sandbox.kit.ledger.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].account.as_str(), entries[0].order_ref.as_str()),
        (ACCOUNT, "order-reused")
    );
    // The exact same transfer still gets the original answer.
    let replayed = adapter.submit(&request).await;
    assert!(matches!(replayed, Ok(ProviderStatus::Succeeded { .. })), "{replayed:?}");
}

fn a_minute_from_now() -> i64 {
    system_now() + 60
}

#[tokio::test]
async fn a_retry_signed_later_with_a_memo_cut_differently_is_the_same_transfer() {
    let sandbox = start().await;
    let request = payout("pay_retried", "order-retried");
    let first = adapter(&sandbox.bank_url(), 2_000).submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");

    // Another X-Timestamp and signature, and a memo cut at another length after a config change.
    let mut changed = common::config(&sandbox.bank_url(), 2_000);
    changed.memo_max_chars = 10;
    let later = BankTransferAdapter::new(changed)
        .expect("a valid config")
        .with_clock(a_minute_from_now);
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

#[tokio::test]
async fn an_account_registered_at_one_bank_is_not_found_under_another_banks_bin() {
    let sandbox = start().await;
    let vietcombank = serde_json::json!([
        {"provider": "bank_transfer", "bin": "970436", "account": "0071000123456", "holder_name": "Phạm Thị Hoa"}
    ]);
    sandbox
        .admin(reqwest::Method::POST, "/sandbox/accounts", vietcombank)
        .await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);

    // VietinBank's BIN for a Vietcombank account: a common swap on payout lists.
    let mut swapped = payout("pay_swapped", "order-swapped");
    to_account(&mut swapped, "970415", "0071000123456");
    let inquiry = adapter.name_inquiry(&swapped).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{inquiry:?}"
    );
    let submitted = adapter.submit(&swapped).await;
    assert!(
        matches!(&submitted, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{submitted:?}"
    );
    assert!(sandbox.kit.ledger.entries().is_empty());

    let mut right = payout("pay_right_bank", "order-right-bank");
    to_account(&mut right, "970436", "0071000123456");
    assert_eq!(adapter.name_inquiry(&right).await, Ok(Some("PHAM THI HOA".into())));
    let paid = adapter.submit(&right).await;
    assert!(matches!(paid, Ok(ProviderStatus::Pending { .. })), "{paid:?}");
}

#[tokio::test]
async fn a_delayed_callback_is_stamped_when_it_is_delivered_and_a_duplicate_keeps_its_webhook_id() {
    // `webhook-timestamp` is whole seconds: a delay over a second always crosses one.
    const DELAY_MS: u64 = 1_100;
    let mut sandbox = start().await;
    let faults = serde_json::json!({
        "callback_delay_ms": DELAY_MS, "complete_after_ms": 0, "duplicate_next_callbacks": 1
    });
    sandbox
        .admin(reqwest::Method::PUT, "/sandbox/faults/bank_transfer", faults)
        .await;
    let adapter = adapter(&sandbox.bank_url(), 2_000);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    adapter
        .submit(&payout("pay_delayed", "order-delayed"))
        .await
        .expect("accepted");
    let delay_ended = (before + Duration::from_millis(DELAY_MS)).as_secs() as i64;

    let (first_headers, first_body) = sandbox.next_callback().await;
    let (second_headers, second_body) = sandbox.next_callback().await;
    for headers in [&first_headers, &second_headers] {
        let stamped: i64 = headers
            .get("webhook-timestamp")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .expect("a webhook-timestamp in unix seconds");
        assert!(
            stamped >= delay_ended,
            "stamped {stamped}, before the delay ended at {delay_ended}"
        );
    }
    assert_eq!(first_headers.get("webhook-id"), second_headers.get("webhook-id"));
    assert_eq!(first_body, second_body);
    for (headers, body) in [(&first_headers, &first_body), (&second_headers, &second_body)] {
        assert_eq!(adapter.verify_callback(headers, body, system_now()), Ok(()));
    }
}
