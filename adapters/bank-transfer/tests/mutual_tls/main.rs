//! Mutual TLS to the bank: the bank sandbox served over TLS that requires a client
//! certificate from a CA made in the test. The adapter is refused without the certificate,
//! cannot trust the bank without the CA, and pays with both.

#[path = "../common/mod.rs"]
mod common;
mod pki;
mod tls_server;

use adapter_bank_transfer::{BankSandbox, BankSandboxConfig, BankTransferAdapter, ConfigError};
use common::{config, payout, ACCOUNT, REQUEST_SECRET, WEBHOOK_SECRET};
use gateway_adapter::{AdapterError, PayoutAdapter, ProviderStatus};
use pki::{test_pki, TestPki};
use sandbox_kit::{RegisteredAccount, SandboxKit, SharedKit};
use secrecy::SecretString;

const PAYMENT: &str = "pay_0123456789abcdef0123456789ab";

/// The bank sandbox behind mutual TLS, with one open account; answers the kit (its ledger
/// is the oracle) and the bank's base URL.
async fn bank_behind_mutual_tls(pki: &TestPki) -> (SharedKit, String) {
    let kit = SandboxKit::shared();
    kit.directory.register([RegisteredAccount {
        provider: "bank_transfer".into(),
        account: ACCOUNT.into(),
        holder_name: "Nguyễn Văn An".into(),
        closed: false,
    }]);
    let sandbox = BankSandbox::new(
        BankSandboxConfig {
            request_secret: SecretString::from(REQUEST_SECRET),
            webhook_secret: SecretString::from(WEBHOOK_SECRET),
            callback_url: None,
        },
        kit.clone(),
    )
    .expect("a valid sandbox config");
    let router = axum::Router::new().nest("/bank", sandbox.router());
    let address = tls_server::serve_mutual_tls(router, pki).await;
    (kit, format!("https://{address}/bank"))
}

/// The adapter with the given mutual-TLS files.
fn adapter(
    base_url: &str,
    with_client_certificate: bool,
    with_ca: bool,
    pki: &TestPki,
) -> Result<BankTransferAdapter, ConfigError> {
    let mut config = config(base_url, 2_000);
    if with_client_certificate {
        config.http.tls_client_cert_path = Some(pki.client_cert_path.clone());
        config.http.tls_client_key_path = Some(pki.client_key_path.clone());
    }
    if with_ca {
        config.http.tls_ca_path = Some(pki.ca_path.clone());
    }
    BankTransferAdapter::new(config)
}

#[tokio::test]
async fn without_a_client_certificate_the_bank_refuses_the_gateway_and_nothing_is_paid() {
    let pki = test_pki();
    let (kit, base_url) = bank_behind_mutual_tls(&pki).await;
    let adapter = adapter(&base_url, false, true, &pki).expect("a valid adapter");
    let request = payout(PAYMENT, "ORD-MTLS-1");

    let inquiry = adapter.name_inquiry(&request).await;
    assert!(
        matches!(&inquiry, Err(AdapterError::Transient { code, .. }) if code == "provider_unreachable"),
        "{inquiry:?}"
    );
    // With TLS 1.3 the client learns of the refusal only after it wrote the request, so a
    // refused submit is, correctly, not known to have sent nothing; either way it is no payout.
    let submitted = adapter.submit(&request).await;
    assert!(
        matches!(
            &submitted,
            Err(AdapterError::UnknownOutcome { .. } | AdapterError::Transient { .. })
        ),
        "{submitted:?}"
    );
    assert!(kit.ledger.entries().is_empty(), "the bank booked nothing");
}

#[tokio::test]
async fn with_the_client_certificate_the_bank_accepts_the_gateway_and_pays() {
    let pki = test_pki();
    let (kit, base_url) = bank_behind_mutual_tls(&pki).await;
    let adapter = adapter(&base_url, true, true, &pki).expect("a valid adapter");
    let request = payout(PAYMENT, "ORD-MTLS-2");

    let holder = adapter.name_inquiry(&request).await;
    assert_eq!(holder, Ok(Some("NGUYEN VAN AN".to_string())));
    let submitted = adapter.submit(&request).await;
    assert!(matches!(submitted, Ok(ProviderStatus::Pending { .. })), "{submitted:?}");
    assert!(
        kit.ledger.get("bank_transfer", PAYMENT).is_some(),
        "the bank booked the transfer"
    );
    assert_eq!(kit.ledger.entries().len(), 1);
}

#[tokio::test]
async fn without_the_custom_ca_the_bank_is_not_trusted_and_a_submit_is_known_not_to_have_left() {
    let pki = test_pki();
    let (kit, base_url) = bank_behind_mutual_tls(&pki).await;
    let adapter = adapter(&base_url, true, false, &pki).expect("a valid adapter");
    // The handshake fails before any request byte: the runner knows nothing was sent.
    let submitted = adapter.submit(&payout(PAYMENT, "ORD-MTLS-3")).await;
    assert!(
        matches!(&submitted, Err(AdapterError::Transient { code, .. }) if code == "provider_unreachable"),
        "{submitted:?}"
    );
    assert!(kit.ledger.entries().is_empty());
}

#[tokio::test]
async fn a_missing_key_file_is_a_config_error_that_names_the_key_and_never_quotes_a_key() {
    let pki = test_pki();
    let mut config = config("https://127.0.0.1:9/bank", 2_000);
    config.http.tls_client_cert_path = Some(pki.client_cert_path.clone());
    config.http.tls_client_key_path = Some(pki.client_cert_path.with_file_name("absent.key"));
    let error = BankTransferAdapter::new(config).expect_err("refused").to_string();
    assert!(
        error.starts_with("providers.bank_transfer.tls_client_key_path names ") && error.contains("absent.key"),
        "{error}"
    );
    assert!(!error.contains("PRIVATE KEY"), "{error}");
}
