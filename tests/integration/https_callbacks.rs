//! The callback listener over TLS (`http.tls_cert_path`, `http.tls_key_path`): with a
//! certificate made in the test it answers HTTPS clients that trust its CA, including a signed
//! bank callback that finishes a payment, and refuses plain HTTP, clients that do not, and
//! (after the header-read timeout) a client that stalls its handshake.

use std::path::PathBuf;
use std::time::Duration;

use adapter_bank_transfer::WebhookSecret;
use gateway::payment::{PaymentState, ResultStatus};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::support::{completed_bank_callback, test_settings, Db, TestStack, BANK_WEBHOOK_SECRET as SECRET};

/// A throwaway CA and a server certificate it signed for `127.0.0.1` and `localhost`, as PEM
/// files like ops would install.
struct TestPki {
    /// Holds the files; removed when the test ends.
    _dir: tempfile::TempDir,
    ca_pem: String,
    cert_path: PathBuf,
    key_path: PathBuf,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Gateway listener test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "payout-gateway.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let server = params.signed_by(&server_key, &issuer).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("gateway.crt");
    let key_path = dir.path().join("gateway.key");
    std::fs::write(&cert_path, server.pem()).unwrap();
    std::fs::write(&key_path, server_key.serialize_pem()).unwrap();
    TestPki {
        _dir: dir,
        ca_pem: ca.pem(),
        cert_path,
        key_path,
    }
}

/// A client that trusts the test CA and nothing else.
fn trusting_client(pki: &TestPki) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listener_serves_https_with_the_configured_certificate_and_refuses_plain_http_and_untrusting_clients() {
        let pki = test_pki();
        let mut settings = test_settings();
        settings.http.tls_cert_path = Some(pki.cert_path.clone());
        settings.http.tls_key_path = Some(pki.key_path.clone());
        settings.http.header_read_timeout_ms = 1_000;
        let mut stack = TestStack::start_with(Db::Sqlite, settings, true).await;
        let listen = stack.settings.http.listen.clone();
        let https = format!("https://{listen}");
        let client = trusting_client(&pki);

        let health = client.get(format!("{https}/healthz")).send().await.unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let port = listen.rsplit(':').next().unwrap();
        let by_name = client
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(by_name.status().as_u16(), 200, "the certificate names localhost too");

        let plain = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get(format!("http://{listen}/healthz"))
            .send()
            .await;
        assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");
        let untrusting = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get(format!("{https}/healthz"))
            .send()
            .await;
        assert!(
            untrusting.is_err(),
            "a client that does not trust the CA is refused: {untrusting:?}"
        );
        // Refused handshakes cost the listener nothing: it still answers.
        let again = client.get(format!("{https}/healthz")).send().await.unwrap();
        assert_eq!(again.status().as_u16(), 200);

        // A client that connects and never starts its handshake is disconnected after the
        // header-read timeout: a stalled handshake holds no task forever.
        let mut stalled = tokio::net::TcpStream::connect(&listen).await.unwrap();
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut buffer)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the stalled connection is closed: {read:?}"
        );

        // A signed bank callback over HTTPS finishes a pending payment.
        let amount = 1_234_000;
        let (order_id, payment_id) = stack.pending_bank_order(amount).await;
        let body = completed_bank_callback(&payment_id, &order_id, amount);
        let now = chrono::Utc::now().timestamp();
        let signature = WebhookSecret::parse(SECRET).unwrap().sign("msg_tls", now, &body);
        let response = client
            .post(format!("{https}/callbacks/bank_transfer"))
            .header("webhook-id", "msg_tls")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["outcome"].as_str(), Some("applied"));
        let record = stack
            .gateway
            .as_ref()
            .unwrap()
            .store
            .payment(&payment_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.state, PaymentState::Succeeded);
        assert_eq!(stack.final_result(&order_id).await.status, ResultStatus::Succeeded);
        stack.stop().await;
    }
}
