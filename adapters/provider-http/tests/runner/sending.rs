//! What the runner sends and how it classifies answers and lost answers.

use std::time::Duration;

use gateway_adapter::AdapterError;
use provider_http::{CallKind, ClientSettings, Method, ProviderRequest, ProviderRunner, TlsFiles};
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{runner, transient_code};

#[tokio::test]
async fn the_described_method_path_headers_and_body_are_sent_and_any_status_is_returned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/bank/v1/transfers"))
        .and(header("idempotency-key", "pay_1"))
        .and(header("content-type", "application/json"))
        .and(body_bytes(b"{\"amount\":1}".to_vec()))
        .respond_with(ResponseTemplate::new(422).set_body_string("{\"error_code\":\"X\"}"))
        .expect(1)
        .mount(&server)
        .await;
    let runner = ProviderRunner::new(
        "test_bank",
        &format!("{}/bank/", server.uri()),
        &ClientSettings::with_timeout_ms(1_000),
    )
    .expect("a valid runner");
    let request = ProviderRequest::post_json(CallKind::Submit, "/v1/transfers", b"{\"amount\":1}".to_vec())
        .header("idempotency-key", "pay_1");
    let answer = runner.send(request).await.expect("an answer");
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body, b"{\"error_code\":\"X\"}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_or_seconds_is_read_and_clamped() {
    let server = MockServer::start().await;
    let in_a_minute = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(61));
    Mock::given(path("/date"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", in_a_minute.as_str()))
        .mount(&server)
        .await;
    Mock::given(path("/day"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "86400"))
        .mount(&server)
        .await;
    let settings = ClientSettings {
        retry_after_max: Duration::from_secs(600),
        ..ClientSettings::with_timeout_ms(1_000)
    };
    let runner = ProviderRunner::new("test_bank", &server.uri(), &settings).expect("a valid runner");
    let dated = runner
        .send(ProviderRequest::new(CallKind::StatusQuery, Method::GET, "/date"))
        .await
        .expect("an answer");
    let wait = dated.retry_after.expect("a Retry-After");
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(61),
        "{wait:?}"
    );
    let error = dated.status_error("The bank answered HTTP 503.");
    assert!(matches!(error, AdapterError::Transient { ref code, retry_after: Some(_), .. } if code == "http_503"));
    let day = runner
        .send(ProviderRequest::new(CallKind::StatusQuery, Method::GET, "/day"))
        .await
        .expect("an answer");
    assert_eq!(day.retry_after, Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn a_submit_that_times_out_is_an_unknown_outcome_and_a_read_is_provider_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let runner = runner(&server, 200);
    let submit = runner
        .send(ProviderRequest::post_json(CallKind::Submit, "/slow", b"{}".to_vec()))
        .await;
    assert!(matches!(submit, Err(AdapterError::UnknownOutcome { .. })), "{submit:?}");
    let read = runner
        .send(ProviderRequest::post_json(
            CallKind::StatusQuery,
            "/slow",
            b"{}".to_vec(),
        ))
        .await;
    assert_eq!(transient_code(&read), Some("provider_timeout"), "{read:?}");
}

#[tokio::test]
async fn a_refused_connection_sent_nothing_so_even_a_submit_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = closed.local_addr().expect("an address");
    drop(closed);
    let runner = ProviderRunner::new(
        "test_bank",
        &format!("http://{address}"),
        &ClientSettings::with_timeout_ms(1_000),
    )
    .expect("a valid runner");
    for kind in [CallKind::Submit, CallKind::NameInquiry] {
        let result = runner
            .send(ProviderRequest::post_json(kind, "/v1/transfers", b"{}".to_vec()))
            .await;
        assert_eq!(transient_code(&result), Some("provider_unreachable"), "{result:?}");
        let Err(AdapterError::Transient { message, .. }) = result else {
            unreachable!("checked above")
        };
        assert!(
            message.starts_with("test_bank did not answer POST /v1/transfers"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_header_that_cannot_be_sent_is_refused_before_anything_leaves() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let request = ProviderRequest::post_json(CallKind::Submit, "/v1/transfers", b"{}".to_vec())
        .header("x-client-id", "line\nbreak");
    let result = runner(&server, 1_000).send(request).await;
    assert!(
        matches!(&result, Err(AdapterError::Permanent { code, .. }) if code == "invalid_request"),
        "{result:?}"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_a_config_error_naming_the_key() {
    let error =
        ProviderRunner::new("vnpost_account", "ftp://x", &ClientSettings::with_timeout_ms(1_000)).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "providers.vnpost_account.base_url is not a valid http(s) URL"
    );
}

/// Mutual TLS asked for on a plain-HTTP base URL would send payouts in clear text while the
/// operator believes they are encrypted and authenticated: refused before any file is read.
#[test]
fn tls_files_with_an_http_base_url_are_a_config_error_naming_both_keys() {
    let mutual = ClientSettings {
        tls: TlsFiles {
            client_cert_path: Some("/etc/gateway/bank.crt".into()),
            client_key_path: Some("/run/secrets/bank.key".into()),
            ca_path: None,
        },
        ..ClientSettings::with_timeout_ms(1_000)
    };
    let error = ProviderRunner::new("bank_transfer", "http://bank.example/api", &mutual).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "providers.bank_transfer.tls_client_cert_path is set but providers.bank_transfer.base_url is \
         http://, which never uses TLS: the file would be ignored and payouts sent in clear text; make \
         base_url https:// or remove the TLS keys"
    );
    // The same files with https:// pass this check and are read (here: they do not exist).
    let error = ProviderRunner::new("bank_transfer", "https://bank.example/api", &mutual).expect_err("refused");
    assert!(error.to_string().contains("which cannot be read"), "{error}");
    let private_ca = ClientSettings {
        tls: TlsFiles {
            ca_path: Some("/etc/gateway/bank-ca.pem".into()),
            ..TlsFiles::default()
        },
        ..ClientSettings::with_timeout_ms(1_000)
    };
    let error = ProviderRunner::new("bank_transfer", "http://bank.example", &private_ca).expect_err("refused");
    assert!(
        error
            .to_string()
            .starts_with("providers.bank_transfer.tls_ca_path is set but "),
        "{error}"
    );
}

/// A provider answering with a redirect gets the redirect back as its answer: the signed request
/// is never sent on to `Location` (here another server, which must see nothing), and the answer
/// is transient, so the payment is tried again with the same key and asked about, not failed.
#[tokio::test]
async fn a_redirect_is_answered_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"status\":\"SUCCESS\"}"))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let provider = MockServer::start().await;
    for (route, status) in [("/v1/transfers", 307), ("/v1/see-other", 303)] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(status).insert_header("location", format!("{}/taken", elsewhere.uri())))
            .mount(&provider)
            .await;
    }
    let runner = runner(&provider, 1_000);
    for (route, status) in [("/v1/transfers", 307_u16), ("/v1/see-other", 303)] {
        let request = ProviderRequest::post_json(CallKind::Submit, route, b"{\"amount\":1}".to_vec())
            .header("idempotency-key", "pay_1");
        let answer = runner.send(request).await.expect("an answer");
        assert_eq!(answer.status, status, "the redirect itself is the answer");
        let error = answer.status_error("The bank answered with a redirect.");
        let code = format!("http_{status}");
        assert!(
            matches!(error, AdapterError::Transient { code: ref given, .. } if *given == code),
            "{error:?}"
        );
    }
    assert!(
        elsewhere.received_requests().await.unwrap_or_default().is_empty(),
        "nothing reached the redirect's target"
    );
}
