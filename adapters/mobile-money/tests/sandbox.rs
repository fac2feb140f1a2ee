//! The real adapter against the wallet sandbox on 127.0.0.1: three providers on one kit,
//! idempotent disbursements, the 7000 "in flight" answer, a timeout after booking, the
//! monthly limit, refusals, and IPN callbacks the adapter verifies.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adapter_mobile_money::{system_now_ms, MobileMoneyAdapter, WalletSandbox, WalletSandboxConfig};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::{config, payout, payout_to, PARTNER_CODE, SECRET_KEY, WALLET};
use gateway_adapter::{AdapterError, PaymentId, PayoutAdapter, PayoutRequest, ProviderStatus, Vnd, WalletProvider};
use sandbox_kit::{admin_router, SandboxKit, SharedKit};
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::mpsc;

/// A locked Viettel Money wallet.
const LOCKED_WALLET: &str = "0971234567";

/// What the callback receiver got: the provider key from the route, and the raw body.
type Received = (String, Bytes);

#[derive(Clone)]
struct Receiver {
    sender: mpsc::UnboundedSender<Received>,
    /// Requests to `/failing-ipn`, which always answers 500.
    failing_hits: Arc<AtomicU32>,
}

/// A running sandbox: its root URL, its kit, and the IPNs it delivered.
struct Running {
    root: String,
    kit: SharedKit,
    callbacks: mpsc::UnboundedReceiver<Received>,
    failing_hits: Arc<AtomicU32>,
    http: reqwest::Client,
}

impl Running {
    fn wallet_url(&self, provider: WalletProvider) -> String {
        format!("{}/wallet/{}", self.root, provider.as_str())
    }

    /// An adapter for `provider` whose IPNs come back to this test's receiver.
    fn adapter(&self, provider: WalletProvider, timeout_ms: u64) -> MobileMoneyAdapter {
        let mut config = config(&self.wallet_url(provider), timeout_ms);
        config.ipn_url = format!("{}/callbacks/{}", self.root, provider.as_str());
        MobileMoneyAdapter::new(provider, config).expect("a valid config")
    }

    fn viettel(&self) -> MobileMoneyAdapter {
        self.adapter(WalletProvider::ViettelMoney, 2_000)
    }

    async fn set_faults(&self, provider: WalletProvider, faults: serde_json::Value) {
        let response = self
            .http
            .put(format!("{}/sandbox/faults/{}", self.root, provider.as_str()))
            .json(&faults)
            .send()
            .await
            .expect("the admin API answers");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn next_callback(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.callbacks.recv())
            .await
            .expect("an IPN arrives within 5 s")
            .expect("the callback channel is open")
    }

    fn credits(&self, order: &str) -> usize {
        self.kit.ledger.credits_for_order(order)
    }
}

async fn receive_callback(State(receiver): State<Receiver>, Path(provider): Path<String>, body: Bytes) -> StatusCode {
    let _ = receiver.sender.send((provider, body));
    StatusCode::NO_CONTENT
}

async fn failing_callback(State(receiver): State<Receiver>) -> StatusCode {
    receiver.failing_hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::INTERNAL_SERVER_ERROR
}

fn sandbox_config(monthly_limit_vnd: u64) -> WalletSandboxConfig {
    WalletSandboxConfig {
        partner_code: PARTNER_CODE.into(),
        secret_key: SecretString::from(SECRET_KEY),
        monthly_limit_vnd,
    }
}

/// Serves the three providers as the gateway does (`/wallet/<provider key>`), the admin API
/// at the root and an IPN receiver, with `WALLET` open at every provider and
/// `LOCKED_WALLET` locked at Viettel Money.
async fn start() -> Running {
    start_with(adapter_mobile_money::DEFAULT_MONTHLY_LIMIT_VND).await
}

async fn start_with(monthly_limit_vnd: u64) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let root = format!("http://{}", listener.local_addr().expect("a bound address"));
    let kit = SandboxKit::shared();
    let mut app = Router::new().merge(admin_router(kit.clone()));
    for provider in WalletProvider::ALL {
        let sandbox = WalletSandbox::new(provider, sandbox_config(monthly_limit_vnd), kit.clone())
            .expect("a valid sandbox config");
        app = app.nest(&format!("/wallet/{}", provider.as_str()), sandbox.router());
    }
    let (sender, callbacks) = mpsc::unbounded_channel();
    let failing_hits = Arc::new(AtomicU32::new(0));
    let receiver = Router::new()
        .route("/callbacks/{provider}", post(receive_callback))
        .route("/failing-ipn", post(failing_callback))
        .with_state(Receiver {
            sender,
            failing_hits: failing_hits.clone(),
        });
    let app = app.merge(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut accounts: Vec<_> = WalletProvider::ALL
        .iter()
        .map(|provider| sandbox_kit::RegisteredAccount {
            provider: provider.as_str().into(),
            account: WALLET.into(),
            holder_name: "Nguyễn Văn An".into(),
            closed: false,
        })
        .collect();
    accounts.push(sandbox_kit::RegisteredAccount {
        provider: "viettel_money".into(),
        account: LOCKED_WALLET.into(),
        holder_name: "Lê Thị Ba".into(),
        closed: true,
    });
    kit.directory.register(accounts);
    Running {
        root,
        kit,
        callbacks,
        failing_hits,
        http: reqwest::Client::new(),
    }
}

async fn wait_until_succeeded(adapter: &MobileMoneyAdapter, request: &PayoutRequest) {
    for _ in 0..100 {
        if let Ok(ProviderStatus::Succeeded { .. }) = adapter.query_status(request).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the disbursement did not complete within 5 s");
}

fn assert_permanent(result: &Result<ProviderStatus, AdapterError>, expected: &str) {
    assert!(
        matches!(result, Err(AdapterError::Permanent { code, .. }) if code == expected),
        "expected Permanent {expected}, got {result:?}"
    );
}

#[tokio::test]
async fn submitting_twice_books_one_credit_and_the_ipn_verifies() {
    let mut sandbox = start().await;
    let adapter = sandbox.viettel();
    let request = payout("pay_round_trip", "order-round-trip");

    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));
    let first = adapter.submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");

    let (provider, body) = sandbox.next_callback().await;
    assert_eq!(provider, "viettel_money");
    let now = system_now_ms() / 1_000;
    let headers = http::HeaderMap::new();
    assert_eq!(adapter.verify_callback(&headers, &body, now), Ok(()));
    let event = adapter
        .parse_callback(&headers, &body)
        .expect("the sandbox sends well-formed IPNs");
    assert_eq!(event.payment_id, PaymentId::from_stored("pay_round_trip"));
    assert_eq!(event.amount, Vnd::new(500_000));
    let ProviderStatus::Succeeded { provider_ref } = &event.status else {
        panic!("expected a succeeded IPN, got {:?}", event.status);
    };
    assert_eq!(event.event_id, format!("{}:0", provider_ref.as_deref().unwrap_or("")));

    let second = adapter.submit(&request).await;
    assert_eq!(
        second,
        Ok(ProviderStatus::Succeeded {
            provider_ref: provider_ref.clone()
        })
    );
    assert_eq!(sandbox.credits("order-round-trip"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
    assert_eq!(sandbox.kit.callbacks.stats().delivered, 1);
}

#[tokio::test]
async fn a_7000_answer_then_a_resubmit_pays_once() {
    let sandbox = start().await;
    sandbox
        .set_faults(WalletProvider::ViettelMoney, json!({"duplicate_in_flight_next": 1}))
        .await;
    let adapter = sandbox.viettel();
    let request = payout("pay_in_flight", "order-in-flight");

    let first = adapter.submit(&request).await;
    assert!(matches!(first, Err(AdapterError::UnknownOutcome { .. })), "{first:?}");
    assert!(sandbox.kit.ledger.entries().is_empty());
    // Wait and inquire: the provider has no record, so the same requestId goes again.
    assert_eq!(adapter.query_status(&request).await, Ok(ProviderStatus::NotFound));
    let second = adapter.submit(&request).await;
    assert!(matches!(second, Ok(ProviderStatus::Pending { .. })), "{second:?}");
    wait_until_succeeded(&adapter, &request).await;
    assert_eq!(sandbox.credits("order-in-flight"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn a_resubmit_while_the_first_is_processing_gets_7000_and_books_nothing_new() {
    let sandbox = start().await;
    sandbox
        .set_faults(WalletProvider::ViettelMoney, json!({"complete_after_ms": 800}))
        .await;
    let adapter = sandbox.viettel();
    let request = payout("pay_processing", "order-processing");

    let first = adapter.submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");
    let again = adapter.submit(&request).await;
    assert!(matches!(again, Err(AdapterError::UnknownOutcome { .. })), "{again:?}");
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
    wait_until_succeeded(&adapter, &request).await;
    let after = adapter.submit(&request).await;
    assert!(matches!(after, Ok(ProviderStatus::Succeeded { .. })), "{after:?}");
    assert_eq!(sandbox.credits("order-processing"), 1);
}

#[tokio::test]
async fn a_timeout_after_booking_is_unknown_and_the_query_finds_one_credit() {
    let sandbox = start().await;
    sandbox
        .set_faults(
            WalletProvider::ViettelMoney,
            json!({"timeout_after_booking_next": 1, "hang_ms": 3_000}),
        )
        .await;
    let adapter = sandbox.adapter(WalletProvider::ViettelMoney, 300);
    let request = payout("pay_timeout", "order-timeout");

    let result = adapter.submit(&request).await;
    assert!(matches!(result, Err(AdapterError::UnknownOutcome { .. })), "{result:?}");
    wait_until_succeeded(&adapter, &request).await;
    let again = adapter.submit(&request).await;
    assert!(matches!(again, Ok(ProviderStatus::Succeeded { .. })), "{again:?}");
    assert_eq!(sandbox.credits("order-timeout"), 1);
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn the_monthly_wallet_limit_refuses_with_1004_and_books_nothing() {
    let sandbox = start().await;
    let adapter = sandbox.viettel();
    let mut arrears = payout("pay_arrears", "order-arrears");
    arrears.amount = Vnd::new(8_000_000).expect("a positive amount");
    let booked = adapter.submit(&arrears).await;
    assert!(matches!(booked, Ok(ProviderStatus::Pending { .. })), "{booked:?}");

    let mut monthly = payout("pay_monthly", "order-monthly");
    monthly.amount = Vnd::new(2_789_000).expect("a positive amount");
    assert_permanent(&adapter.submit(&monthly).await, "wallet_monthly_limit");
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
    assert_eq!(adapter.query_status(&monthly).await, Ok(ProviderStatus::NotFound));

    // The limit is per wallet and per provider: the same wallet at VNPT Money still has room.
    let vnpt = sandbox.adapter(WalletProvider::VnptMoney, 2_000);
    let mut elsewhere = payout_to(WalletProvider::VnptMoney, WALLET, "pay_monthly", "order-monthly");
    elsewhere.amount = monthly.amount;
    let other = vnpt.submit(&elsewhere).await;
    assert!(matches!(other, Ok(ProviderStatus::Pending { .. })), "{other:?}");
}

#[tokio::test]
async fn a_configured_monthly_limit_is_enforced_to_the_dong() {
    let sandbox = start_with(1_000_000).await;
    let adapter = sandbox.viettel();
    let first = adapter.submit(&payout("pay_a", "order-a")).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");
    // 500,000 + 500,000 is exactly the limit: still allowed.
    let second = adapter.submit(&payout("pay_b", "order-b")).await;
    assert!(matches!(second, Ok(ProviderStatus::Pending { .. })), "{second:?}");
    assert_permanent(
        &adapter.submit(&payout("pay_c", "order-c")).await,
        "wallet_monthly_limit",
    );
    assert_eq!(sandbox.kit.ledger.entries().len(), 2);
}

#[tokio::test]
async fn three_providers_on_one_sandbox_keep_separate_ledgers() {
    let sandbox = start().await;
    for provider in WalletProvider::ALL {
        let adapter = sandbox.adapter(provider, 2_000);
        let request = payout_to(
            provider,
            WALLET,
            "pay_shared_id",
            &format!("order-{}", provider.as_str()),
        );
        let result = adapter.submit(&request).await;
        assert!(
            matches!(result, Ok(ProviderStatus::Pending { .. })),
            "{provider:?}: {result:?}"
        );
    }
    let entries = sandbox.kit.ledger.entries();
    assert_eq!(entries.len(), 3);
    let mut providers: Vec<_> = entries.iter().map(|entry| entry.provider.clone()).collect();
    providers.sort();
    assert_eq!(providers, ["mobifone_money", "viettel_money", "vnpt_money"]);
    for entry in &entries {
        assert_eq!(entry.order_ref, format!("order-{}", entry.provider));
        assert_eq!(entry.client_reference, "pay_shared_id");
    }
    // A payment made only at VNPT Money is unknown to Viettel Money.
    let vnpt_only = payout_to(WalletProvider::VnptMoney, WALLET, "pay_vnpt_only", "order-x");
    sandbox
        .adapter(WalletProvider::VnptMoney, 2_000)
        .submit(&vnpt_only)
        .await
        .expect("VNPT Money accepts it");
    let mut asked_at_viettel = vnpt_only.clone();
    asked_at_viettel.destination = payout("pay_vnpt_only", "order-x").destination;
    assert_eq!(
        sandbox.viettel().query_status(&asked_at_viettel).await,
        Ok(ProviderStatus::NotFound)
    );
}

#[tokio::test]
async fn unknown_and_locked_wallets_are_refused_at_inquiry_and_at_submit() {
    let sandbox = start().await;
    let adapter = sandbox.viettel();
    let unknown = payout_to(
        WalletProvider::ViettelMoney,
        "0861234567",
        "pay_unknown",
        "order-unknown",
    );
    let inquiry = adapter.name_inquiry(&unknown).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Permanent { code, .. }) if code == "account_not_found"),
        "{inquiry:?}"
    );
    assert_permanent(&adapter.submit(&unknown).await, "account_not_found");

    let locked = payout_to(
        WalletProvider::ViettelMoney,
        LOCKED_WALLET,
        "pay_locked",
        "order-locked",
    );
    let inquiry = adapter.name_inquiry(&locked).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Permanent { code, .. }) if code == "account_closed"),
        "{inquiry:?}"
    );
    assert_permanent(&adapter.submit(&locked).await, "account_closed");
    assert!(sandbox.kit.ledger.entries().is_empty());
}

#[tokio::test]
async fn the_same_request_id_with_another_amount_leads_to_an_inquiry_that_never_fails_the_payment() {
    let sandbox = start().await;
    let adapter = sandbox.viettel();
    let request = payout("pay_conflict", "order-conflict");
    adapter.submit(&request).await.expect("the first is accepted");
    let mut changed = request.clone();
    changed.amount = Vnd::new(600_000).expect("a positive amount");
    let conflict = adapter.submit(&changed).await;
    assert!(
        matches!(conflict, Err(AdapterError::UnknownOutcome { .. })),
        "{conflict:?}"
    );
    wait_until_succeeded(&adapter, &request).await;
    // The provider paid another amount under this requestId: never taken as paid or failed.
    let inquiry = adapter.query_status(&changed).await;
    assert!(
        matches!(inquiry, Err(AdapterError::UnknownOutcome { .. })),
        "{inquiry:?}"
    );
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
    assert_eq!(sandbox.kit.ledger.entries()[0].amount, 500_000);
}

#[tokio::test]
async fn a_payment_id_of_the_real_length_passes_the_sandboxs_32_character_request_id_limit() {
    let mut sandbox = start().await;
    let adapter = sandbox.viettel();
    let request = payout("pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c", "order-real-length");
    assert_eq!(adapter.name_inquiry(&request).await, Ok(Some("NGUYEN VAN AN".into())));
    let submitted = adapter.submit(&request).await;
    assert!(matches!(submitted, Ok(ProviderStatus::Pending { .. })), "{submitted:?}");
    let (_, body) = sandbox.next_callback().await;
    let event = adapter
        .parse_callback(&http::HeaderMap::new(), &body)
        .expect("a well-formed IPN");
    assert_eq!(event.amount, Vnd::new(500_000));

    let too_long = payout("pay_1f0c4d0b6c1e2b4a9d8e7f6a5b4c0", "order-too-long");
    assert_permanent(&adapter.submit(&too_long).await, "invalid_request");
}

#[tokio::test]
async fn refused_submits_book_nothing() {
    let sandbox = start().await;
    let adapter = sandbox.viettel();
    sandbox
        .set_faults(WalletProvider::ViettelMoney, json!({"fail_next_submits": 1}))
        .await;
    let request = payout("pay_503", "order-503");
    let unavailable = adapter.submit(&request).await;
    assert!(
        matches!(&unavailable, Err(AdapterError::Transient { code, .. }) if code == "http_503"),
        "{unavailable:?}"
    );
    sandbox
        .set_faults(WalletProvider::ViettelMoney, json!({"error_429_rate": 1.0}))
        .await;
    let limited = adapter.submit(&request).await;
    assert!(
        matches!(&limited, Err(AdapterError::Transient { code, retry_after, .. })
            if code == "http_429" && *retry_after == Some(Duration::from_secs(1))),
        "{limited:?}"
    );
    assert!(sandbox.kit.ledger.entries().is_empty());
    assert_eq!(adapter.query_status(&request).await, Ok(ProviderStatus::NotFound));
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused_with_13_and_books_nothing() {
    let sandbox = start().await;
    let mut wrong = config(&sandbox.wallet_url(WalletProvider::ViettelMoney), 2_000);
    wrong.secret_key = SecretString::from("not-the-shared-secret");
    let impostor = MobileMoneyAdapter::new(WalletProvider::ViettelMoney, wrong).expect("a valid config");
    // The refusal is signed with the real key, which the impostor cannot verify: unknown.
    let refused = impostor.submit(&payout("pay_forged", "order-forged")).await;
    assert!(
        matches!(refused, Err(AdapterError::UnknownOutcome { .. })),
        "{refused:?}"
    );
    assert!(sandbox.kit.ledger.entries().is_empty());

    let raw: serde_json::Value = sandbox
        .http
        .post(format!(
            "{}/v2/disbursement/pay",
            sandbox.wallet_url(WalletProvider::ViettelMoney)
        ))
        .json(&json!({"partnerCode": PARTNER_CODE, "requestId": "pay_raw", "signature": "00"}))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("a JSON answer");
    assert_eq!(raw["resultCode"], 13);
    assert!(sandbox.kit.ledger.entries().is_empty());
}

#[tokio::test]
async fn the_ipn_is_sent_once_without_retries_and_a_lost_one_leaves_the_query() {
    let sandbox = start().await;
    let mut config = config(&sandbox.wallet_url(WalletProvider::ViettelMoney), 2_000);
    config.ipn_url = format!("{}/failing-ipn", sandbox.root);
    let adapter = MobileMoneyAdapter::new(WalletProvider::ViettelMoney, config).expect("a valid config");
    let request = payout("pay_ipn_once", "order-ipn-once");
    adapter.submit(&request).await.expect("accepted");
    wait_until_succeeded(&adapter, &request).await;
    // Give the single delivery time to finish; a retry would come 100 ms later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sandbox.failing_hits.load(Ordering::SeqCst), 1);
    assert_eq!(sandbox.kit.callbacks.stats().failed, 1);

    sandbox
        .set_faults(WalletProvider::ViettelMoney, json!({"lose_next_callbacks": 1}))
        .await;
    let lost = payout("pay_ipn_lost", "order-ipn-lost");
    sandbox.viettel().submit(&lost).await.expect("accepted");
    wait_until_succeeded(&sandbox.viettel(), &lost).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sandbox.kit.callbacks.stats().lost, 1);
    assert_eq!(sandbox.kit.callbacks.stats().delivered, 0);
    assert_eq!(sandbox.credits("order-ipn-lost"), 1);
}

#[tokio::test]
async fn a_reused_request_id_with_the_same_amount_but_another_name_order_or_wallet_answers_40() {
    let sandbox = start().await;
    let adapter = sandbox.viettel();
    let request = payout("pay_reused", "order-reused");
    adapter.submit(&request).await.expect("the first is accepted");
    wait_until_succeeded(&adapter, &request).await;

    let mut other_name = request.clone();
    other_name.beneficiary.full_name = "Trần Thị Bình".into();
    let other_order = payout("pay_reused", "order-someone-else");
    let other_wallet = payout_to(
        WalletProvider::ViettelMoney,
        LOCKED_WALLET,
        "pay_reused",
        "order-reused",
    );
    for (what, changed) in [
        ("beneficiaryName", other_name),
        ("orderId", other_order),
        ("walletId", other_wallet),
    ] {
        let answer = adapter.submit(&changed).await;
        assert!(
            matches!(answer, Err(AdapterError::UnknownOutcome { .. })),
            "another {what} under the same requestId: {answer:?}"
        );
    }
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
    // The exact same disbursement still gets the original answer.
    let replayed = adapter.submit(&request).await;
    assert!(matches!(replayed, Ok(ProviderStatus::Succeeded { .. })), "{replayed:?}");
}

#[tokio::test]
async fn a_retry_with_its_memo_cut_differently_and_another_ipn_url_is_the_same_disbursement() {
    let sandbox = start().await;
    let request = payout("pay_retried", "order-retried");
    let first = sandbox.viettel().submit(&request).await;
    assert!(matches!(first, Ok(ProviderStatus::Pending { .. })), "{first:?}");
    wait_until_succeeded(&sandbox.viettel(), &request).await;

    // After a config change: the memo cut at another length, IPNs to another address.
    let mut changed = config(&sandbox.wallet_url(WalletProvider::ViettelMoney), 2_000);
    changed.memo_max_chars = 10;
    changed.ipn_url = format!("{}/failing-ipn", sandbox.root);
    let later = MobileMoneyAdapter::new(WalletProvider::ViettelMoney, changed).expect("a valid config");
    let retried = later.submit(&request).await;
    assert!(matches!(retried, Ok(ProviderStatus::Succeeded { .. })), "{retried:?}");
    assert_eq!(sandbox.kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn a_delayed_ipn_is_stamped_when_it_is_delivered_and_a_duplicate_keeps_its_event() {
    const DELAY_MS: i64 = 300;
    let mut sandbox = start().await;
    sandbox
        .set_faults(
            WalletProvider::ViettelMoney,
            json!({"callback_delay_ms": DELAY_MS, "complete_after_ms": 0, "duplicate_next_callbacks": 1}),
        )
        .await;
    let adapter = sandbox.viettel();
    let before_ms = system_now_ms();
    adapter
        .submit(&payout("pay_delayed", "order-delayed"))
        .await
        .expect("accepted");
    let delay_ended_ms = before_ms + DELAY_MS;

    let (_, first) = sandbox.next_callback().await;
    let (_, second) = sandbox.next_callback().await;
    let mut events = Vec::new();
    for body in [&first, &second] {
        let fields: serde_json::Value = serde_json::from_slice(body).expect("a JSON IPN");
        let stamped = fields["responseTime"]
            .as_i64()
            .expect("responseTime in unix milliseconds");
        assert!(
            stamped >= delay_ended_ms,
            "stamped {stamped}, before the delay ended at {delay_ended_ms}"
        );
        let headers = http::HeaderMap::new();
        assert_eq!(adapter.verify_callback(&headers, body, system_now_ms() / 1_000), Ok(()));
        let event = adapter.parse_callback(&headers, body).expect("a well-formed IPN");
        events.push(event.event_id);
    }
    assert_eq!(events[0], events[1]);
}
