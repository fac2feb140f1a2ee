//! The guard as the runner sees it, on tokio's paused clock: nothing here sleeps in real time.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::time::{advance, Instant};

use super::*;
use crate::adapter::AdapterError;

const PROVIDER: &str = "viettel_money";

/// 3 failures in a row, or half of the last 6 calls, open the breaker for 1 s; one probe.
fn breaker_config() -> ProtectionConfig {
    ProtectionConfig {
        breaker_consecutive_failures: 3,
        breaker_failure_ratio: 0.5,
        breaker_window: 6,
        breaker_open_ms: 1_000,
        breaker_half_open_probes: 1,
        ..ProtectionConfig::default()
    }
}

fn rate_config(per_second: u32, burst: Option<u32>) -> ProtectionConfig {
    ProtectionConfig {
        rate_limit_per_second: Some(per_second),
        burst,
        ..ProtectionConfig::default()
    }
}

async fn calls(guard: &ProviderGuard, outcomes: &str) {
    for outcome in outcomes.chars() {
        let admission = guard.admit().await.expect("the breaker admits the call");
        admission.record(outcome == 'S');
    }
}

/// The `retry_after` of a circuit_open refusal; fails the test on any other answer.
async fn refused(guard: &ProviderGuard) -> Duration {
    match guard.admit().await {
        Err(AdapterError::Transient {
            code,
            message,
            retry_after: Some(retry_after),
        }) if code == CIRCUIT_OPEN => {
            assert!(
                message.starts_with(PROVIDER) && message.ends_with("nothing was sent"),
                "{message}"
            );
            retry_after
        }
        other => panic!("expected a circuit_open refusal, got {other:?}"),
    }
}

async fn opened_guard() -> ProviderGuard {
    let guard = ProviderGuard::new(PROVIDER, breaker_config());
    calls(&guard, "FFF").await;
    assert_eq!(guard.state(), BreakerState::Open);
    guard
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_consecutive_failures() {
    let guard = ProviderGuard::new(PROVIDER, breaker_config());
    calls(&guard, "FF").await;
    assert_eq!(guard.state(), BreakerState::Closed);
    calls(&guard, "F").await;
    assert_eq!(guard.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_on_the_failure_ratio() {
    let guard = ProviderGuard::new(PROVIDER, breaker_config());
    calls(&guard, "FSFSF").await;
    assert_eq!(guard.state(), BreakerState::Closed, "the window of 6 is not full yet");
    calls(&guard, "S").await;
    assert_eq!(guard.state(), BreakerState::Open, "3 failures in the last 6 calls");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_answers_circuit_open_at_once_with_a_retry_after_that_shrinks() {
    let guard = opened_guard().await;
    let asked_at = Instant::now();
    assert_eq!(refused(&guard).await, Duration::from_millis(1_000));
    assert_eq!(Instant::now(), asked_at, "the refusal did not wait");
    advance(Duration::from_millis(700)).await;
    assert_eq!(refused(&guard).await, Duration::from_millis(300));
    assert_eq!(guard.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn unavailable_for_is_the_time_left_while_open_and_none_otherwise() {
    let guard = ProviderGuard::new(PROVIDER, breaker_config());
    assert_eq!(guard.unavailable_for(), None, "closed");
    calls(&guard, "FFF").await;
    assert_eq!(guard.unavailable_for(), Some(Duration::from_millis(1_000)));
    advance(Duration::from_millis(600)).await;
    assert_eq!(guard.unavailable_for(), Some(Duration::from_millis(400)));
    advance(Duration::from_millis(400)).await;
    assert_eq!(guard.unavailable_for(), None, "the open time is over: a probe may go");
    assert_eq!(guard.state(), BreakerState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_without_waiting_for_the_rate_limit() {
    let guard = ProviderGuard::new(
        PROVIDER,
        ProtectionConfig {
            rate_limit_per_second: Some(1),
            ..breaker_config()
        },
    );
    calls(&guard, "FFF").await;
    let asked_at = Instant::now();
    refused(&guard).await;
    assert_eq!(
        Instant::now(),
        asked_at,
        "the rate limit's next slot is a second away, and was not waited for"
    );
}

#[tokio::test(start_paused = true)]
async fn a_half_open_breaker_admits_one_probe_and_refuses_the_others() {
    let guard = opened_guard().await;
    advance(Duration::from_millis(1_000)).await;
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    let probe = guard.admit().await.expect("the probe is admitted");
    assert_eq!(
        refused(&guard).await,
        Duration::from_millis(1_000),
        "a second caller waits for the probe"
    );
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    drop(probe);
}

#[tokio::test(start_paused = true)]
async fn a_successful_probe_closes_the_breaker() {
    let guard = opened_guard().await;
    advance(Duration::from_millis(1_000)).await;
    guard.admit().await.expect("the probe is admitted").record(true);
    assert_eq!(guard.state(), BreakerState::Closed);
    calls(&guard, "SS").await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_the_breaker_for_the_whole_open_time() {
    let guard = opened_guard().await;
    advance(Duration::from_millis(1_000)).await;
    guard.admit().await.expect("the probe is admitted").record(false);
    assert_eq!(guard.state(), BreakerState::Open);
    assert_eq!(refused(&guard).await, Duration::from_millis(1_000));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_admission_changes_nothing() {
    let guard = ProviderGuard::new(PROVIDER, breaker_config());
    calls(&guard, "FF").await;
    drop(guard.admit().await.expect("admitted"));
    assert_eq!(guard.state(), BreakerState::Closed);
    calls(&guard, "F").await;
    assert_eq!(
        guard.state(),
        BreakerState::Open,
        "the cancelled call did not break the run of failures"
    );

    advance(Duration::from_millis(1_000)).await;
    drop(guard.admit().await.expect("the probe is admitted"));
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    guard
        .admit()
        .await
        .expect("the cancelled probe's slot is free again")
        .record(true);
    assert_eq!(guard.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_call_waiting_for_the_rate_limit_when_the_breaker_opens_is_not_sent() {
    let config = ProtectionConfig {
        rate_limit_per_second: Some(1),
        breaker_consecutive_failures: 1,
        breaker_open_ms: 5_000,
        ..breaker_config()
    };
    let guard = std::sync::Arc::new(ProviderGuard::new(PROVIDER, config));
    let first = guard.admit().await.expect("the first call goes at once");
    let waiting = tokio::spawn({
        let guard = guard.clone();
        async move { guard.admit().await.map(drop) }
    });
    tokio::task::yield_now().await;
    first.record(false);
    let answer = waiting.await.expect("the waiting call ends");
    assert!(
        matches!(answer, Err(AdapterError::Transient { ref code, .. }) if code == CIRCUIT_OPEN),
        "{answer:?}"
    );
}

/// The most admissions that fall in any one-second window `[t, t + 1 s)`.
fn most_in_any_second(admitted_at: &[Instant]) -> usize {
    let in_second_from = |start: &Instant| {
        let end = *start + Duration::from_secs(1);
        admitted_at.iter().filter(|at| *at >= start && **at < end).count()
    };
    admitted_at.iter().map(in_second_from).max().unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_of_r_per_second_admits_at_most_r_in_any_one_second_window() {
    for per_second in [3, 10] {
        let guard = ProviderGuard::new(PROVIDER, rate_config(per_second, None));
        let started = Instant::now();
        let mut admitted_at = Vec::new();
        for _ in 0..4 * per_second + 1 {
            guard.admit().await.expect("no breaker refusal").record(true);
            admitted_at.push(Instant::now());
        }
        assert_eq!(most_in_any_second(&admitted_at), per_second as usize, "{per_second}/s");
        let took = Instant::now() - started;
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_millis(4_050),
            "{per_second}/s: {took:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_rate_limit() {
    let guard = std::sync::Arc::new(ProviderGuard::new(PROVIDER, rate_config(10, None)));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..35 {
        let guard = guard.clone();
        callers.spawn(async move {
            guard.admit().await.expect("no breaker refusal").record(true);
            Instant::now()
        });
    }
    let admitted_at = callers.join_all().await;
    assert_eq!(admitted_at.len(), 35);
    assert_eq!(most_in_any_second(&admitted_at), 10);
}

#[tokio::test(start_paused = true)]
async fn a_burst_goes_out_at_once_and_then_the_rate_paces_the_rest() {
    let guard = ProviderGuard::new(PROVIDER, rate_config(10, Some(4)));
    let started = Instant::now();
    let mut admitted_at = Vec::new();
    for _ in 0..30 {
        guard.admit().await.expect("no breaker refusal").record(true);
        admitted_at.push(Instant::now());
    }
    assert!(
        admitted_at[..4].iter().all(|at| *at == started),
        "the burst of 4 did not wait"
    );
    assert!(admitted_at[4] > started, "the fifth waited");
    assert_eq!(
        most_in_any_second(&admitted_at),
        10 + 4 - 1,
        "rate + burst - 1 in the worst second"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_guard_never_waits() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let guard = ProviderGuard::new(PROVIDER, ProtectionConfig::default());
    let started = Instant::now();
    calls(&guard, &"S".repeat(10_000)).await;
    assert_eq!(Instant::now(), started);
    assert_eq!(value(&take(&snapshotter), telemetry::RATE_LIMITED_TOTAL, None), None);
}

/// What the recorder holds, read once: reading resets its counters and gauges.
fn take(snapshotter: &Snapshotter) -> Vec<(metrics::Key, DebugValue)> {
    let snapshot = snapshotter.snapshot().into_vec();
    snapshot
        .into_iter()
        .map(|(key, _, _, value)| (key.into_parts().1, value))
        .collect()
}

/// The value of the metric `name` for [`PROVIDER`] (and `to`, when given), if it was recorded.
fn value<'a>(taken: &'a [(metrics::Key, DebugValue)], name: &str, to: Option<&str>) -> Option<&'a DebugValue> {
    taken.iter().find_map(|(key, value)| {
        let has = |label: &str, wanted: &str| key.labels().any(|l| l.key() == label && l.value() == wanted);
        let matches = key.name() == name && has("provider", PROVIDER) && to.is_none_or(|to| has("to", to));
        matches.then_some(value)
    })
}

#[tokio::test(start_paused = true)]
async fn transitions_and_waits_show_in_the_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let guard = ProviderGuard::new(
        PROVIDER,
        ProtectionConfig {
            rate_limit_per_second: Some(5),
            ..breaker_config()
        },
    );

    calls(&guard, "FFF").await;
    let taken = take(&snapshotter);
    assert_eq!(
        value(&taken, telemetry::BREAKER_STATE, None),
        Some(&DebugValue::Gauge(2.0.into()))
    );
    assert_eq!(
        value(&taken, telemetry::BREAKER_TRANSITIONS_TOTAL, Some("open")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(&taken, telemetry::RATE_LIMITED_TOTAL, None),
        Some(&DebugValue::Counter(2)),
        "calls 2 and 3 waited"
    );

    advance(Duration::from_millis(1_000)).await;
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    let taken = take(&snapshotter);
    assert_eq!(
        value(&taken, telemetry::BREAKER_STATE, None),
        Some(&DebugValue::Gauge(1.0.into()))
    );
    assert_eq!(
        value(&taken, telemetry::BREAKER_TRANSITIONS_TOTAL, Some("half_open")),
        Some(&DebugValue::Counter(1))
    );

    guard.admit().await.expect("the probe is admitted").record(true);
    let taken = take(&snapshotter);
    assert_eq!(
        value(&taken, telemetry::BREAKER_TRANSITIONS_TOTAL, Some("closed")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(&taken, telemetry::RATE_LIMITED_TOTAL, None),
        Some(&DebugValue::Counter(0)),
        "the probe did not wait"
    );
}

/// The runner shares one guard across tasks on a multi-threaded runtime and awaits `admit`
/// inside spawned tasks: checked when this compiles.
#[allow(dead_code)]
fn guards_admissions_and_admit_futures_cross_threads(guard: &ProviderGuard) -> impl Send + '_ {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<ProviderGuard>();
    send_and_sync::<Admission>();
    guard.admit()
}
