//! The runner records per-provider latency and errors with low-cardinality labels.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use provider_http::metrics::{ERRORS_TOTAL, REQUEST_SECONDS};
use provider_http::{CallKind, ProviderRequest};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::runner;

/// Labels of a metric as sorted `key=value` strings.
fn labels(key: &metrics::Key) -> Vec<String> {
    let mut labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}={}", label.key(), label.value()))
        .collect();
    labels.sort();
    labels
}

#[test]
fn latency_and_errors_are_recorded_per_provider_with_low_cardinality_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let server = MockServer::start().await;
                Mock::given(path("/busy"))
                    .respond_with(ResponseTemplate::new(503))
                    .mount(&server)
                    .await;
                Mock::given(path("/v1/transfers/pay_123"))
                    .respond_with(ResponseTemplate::new(200))
                    .mount(&server)
                    .await;
                let runner = runner(&server, 1_000);
                let busy = ProviderRequest::post_json(CallKind::Submit, "/busy", b"{}".to_vec());
                assert!(runner.send(busy).await.is_ok());
                let status = ProviderRequest::new(
                    CallKind::StatusQuery,
                    provider_http::Method::GET,
                    "/v1/transfers/pay_123",
                );
                assert!(runner.send(status).await.is_ok());
            });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let mut histograms = Vec::new();
    let mut errors = Vec::new();
    for (key, _, _, value) in snapshot {
        match (key.kind(), key.key().name(), value) {
            (MetricKind::Histogram, REQUEST_SECONDS, DebugValue::Histogram(values)) => {
                histograms.push((labels(key.key()), values.len()))
            }
            (MetricKind::Counter, ERRORS_TOTAL, DebugValue::Counter(count)) => errors.push((labels(key.key()), count)),
            _ => {}
        }
    }
    histograms.sort();
    assert_eq!(
        histograms,
        vec![
            (
                vec!["operation=status_query".to_string(), "provider=test_bank".to_string()],
                1
            ),
            (
                vec!["operation=submit".to_string(), "provider=test_bank".to_string()],
                1
            ),
        ]
    );
    // No path, id or status code among the labels: only the kind of error.
    assert_eq!(
        errors,
        vec![(
            vec!["kind=server_error".to_string(), "provider=test_bank".to_string()],
            1
        )]
    );
}
