//! The runner asks the provider's guard before sending and tells it how the provider answered.

use std::sync::Arc;
use std::time::Duration;

use gateway_adapter::protection::{ProtectionConfig, ProviderGuard};
use gateway_adapter::AdapterError;
use provider_http::{CallKind, ClientSettings, ProviderRequest, ProviderRunner};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn breaker_after(failures: u32) -> ProtectionConfig {
    ProtectionConfig {
        breaker_consecutive_failures: failures,
        breaker_open_ms: 60_000,
        ..ProtectionConfig::default()
    }
}

fn submit() -> ProviderRequest {
    ProviderRequest::post_json(CallKind::Submit, "/pay", b"{}".to_vec())
}

#[tokio::test]
async fn server_errors_open_the_breaker_and_an_open_breaker_refuses_without_sending() {
    let server = MockServer::start().await;
    Mock::given(path("/pay"))
        .respond_with(ResponseTemplate::new(503))
        .expect(2)
        .mount(&server)
        .await;
    let settings = ClientSettings {
        protection: Some(breaker_after(2)),
        ..ClientSettings::with_timeout_ms(1_000)
    };
    let runner = ProviderRunner::new("test_wallet", &server.uri(), &settings).expect("a valid runner");
    for _ in 0..2 {
        let answer = runner.send(submit()).await.expect("an answer");
        assert_eq!(answer.status, 503);
    }
    let refused = runner.send(submit()).await;
    assert!(
        matches!(&refused, Err(AdapterError::Transient { code, retry_after: Some(wait), .. })
            if code == "circuit_open" && *wait <= Duration::from_secs(60)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn business_refusals_are_the_provider_working_and_never_open_the_breaker() {
    let server = MockServer::start().await;
    Mock::given(path("/pay"))
        .respond_with(ResponseTemplate::new(422))
        .expect(3)
        .mount(&server)
        .await;
    let guard = Arc::new(ProviderGuard::new("test_wallet", breaker_after(1)));
    let runner = ProviderRunner::new("test_wallet", &server.uri(), &ClientSettings::with_timeout_ms(1_000))
        .expect("a valid runner")
        .with_guard(Arc::clone(&guard));
    for _ in 0..3 {
        assert_eq!(runner.send(submit()).await.expect("an answer").status, 422);
    }
    assert!(runner.guard().is_some_and(|used| Arc::ptr_eq(used, &guard)));
}
