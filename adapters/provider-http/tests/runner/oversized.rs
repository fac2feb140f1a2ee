//! An answer longer than any provider's JSON is not read to its end: a misdirected base URL
//! or a faulty provider cannot make every concurrent call hold megabytes.

use gateway_adapter::AdapterError;
use provider_http::runner::MAX_ANSWER_BYTES;
use provider_http::{CallKind, Method, ProviderRequest};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{runner, transient_code};

/// A provider answering `200` with a 2 MiB body to every call.
async fn provider_with_a_huge_answer() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/v1/transfers"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 2 * 1024 * 1024]))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_submit_answered_with_an_oversized_body_is_an_unknown_outcome() {
    let server = provider_with_a_huge_answer().await;
    let result = runner(&server, 5_000)
        .send(ProviderRequest::post_json(
            CallKind::Submit,
            "/v1/transfers",
            b"{}".to_vec(),
        ))
        .await;
    let Err(AdapterError::UnknownOutcome { message }) = &result else {
        let printed = result.as_ref().map(|answer| answer.body.len());
        panic!("expected an unknown outcome, got {printed:?}");
    };
    assert!(message.contains(&MAX_ANSWER_BYTES.to_string()), "{message}");
}

#[tokio::test]
async fn a_read_answered_with_an_oversized_body_is_a_bad_answer() {
    let server = provider_with_a_huge_answer().await;
    let result = runner(&server, 5_000)
        .send(ProviderRequest::new(
            CallKind::StatusQuery,
            Method::GET,
            "/v1/transfers",
        ))
        .await;
    // Printed without the body: 2 MiB of it would bury the failure.
    let printed = result.as_ref().map(|answer| answer.body.len());
    assert_eq!(transient_code(&result), Some("provider_bad_answer"), "{printed:?}");
}

#[tokio::test]
async fn an_answer_of_exactly_the_limit_is_read_whole() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/transfers"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; MAX_ANSWER_BYTES]))
        .mount(&server)
        .await;
    let answer = runner(&server, 5_000)
        .send(ProviderRequest::new(
            CallKind::StatusQuery,
            Method::GET,
            "/v1/transfers",
        ))
        .await
        .expect("an answer");
    assert_eq!(answer.body.len(), MAX_ANSWER_BYTES);
}
