//! Delivery of provider callbacks to the gateway, with the faults real providers show:
//! delayed, lost and duplicated deliveries, and a few retries when the gateway is down.
//! Each attempt is signed and stamped when it goes out, as a real provider's sender does:
//! the gateway refuses callbacks stamped too long ago, so a callback stamped before its delay
//! would turn "delayed" into "lost".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

use crate::faults::FaultState;

/// Attempts per delivery (the first try plus retries on 5xx or connection errors).
const ATTEMPTS: u32 = 4;
/// Backoff before the first retry; doubled on each further retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// One delivery attempt's headers and body, signed and stamped for that attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Header names and values, signature headers included.
    pub headers: Vec<(String, String)>,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
}

/// What writes an attempt: `None` when the emulation cannot write it (the attempt fails).
type Seal = dyn Fn() -> Option<Sealed> + Send + Sync;

/// One callback: where it goes, and how the provider emulation signs and stamps each attempt
/// at the moment it goes out. The event id is fixed when the callback is made, so retries and
/// a duplicate delivery carry the same event id, each with its own fresh timestamp.
#[derive(Clone)]
pub struct Callback {
    pub url: String,
    seal: Arc<Seal>,
}

impl Callback {
    /// A callback whose attempts `seal` writes when each goes out; `seal` must keep the event
    /// id and the event the same and only restamp and re-sign.
    pub fn new(url: impl Into<String>, seal: impl Fn() -> Option<Sealed> + Send + Sync + 'static) -> Self {
        Self {
            url: url.into(),
            seal: Arc::new(seal),
        }
    }

    /// A callback sent with the same bytes on every attempt, for providers whose callbacks
    /// carry no time.
    pub fn fixed(url: impl Into<String>, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let sealed = Sealed { headers, body };
        Self::new(url, move || Some(sealed.clone()))
    }

    /// This attempt's headers and body, written now.
    pub fn seal(&self) -> Option<Sealed> {
        (self.seal)()
    }
}

impl std::fmt::Debug for Callback {
    /// The address only: the body names the beneficiary's payment.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Counts of what the sender did, for the admin API and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallbackStats {
    /// Deliveries the gateway answered with a 2xx.
    pub delivered: u64,
    /// Callbacks dropped on purpose by the lost-callback fault.
    pub lost: u64,
    /// Callbacks sent a second time by the duplicate-callback fault.
    pub duplicated: u64,
    /// Deliveries that never got a 2xx after every attempt, or got a 4xx.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    failed: AtomicU64,
}

/// Sends callbacks on spawned tasks, so the request handler that triggers one never waits.
#[derive(Clone, Debug, Default)]
pub struct CallbackSender {
    http: reqwest::Client,
    counters: Arc<Counters>,
}

impl CallbackSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `callback` honouring the provider's faults: it may be lost, delayed by
    /// `callback_delay_ms`, or delivered twice. Returns the delivery task, or `None` when the
    /// callback was lost. Must be called inside a tokio runtime.
    pub fn send(&self, callback: Callback, faults: &FaultState) -> Option<JoinHandle<()>> {
        self.dispatch(callback, faults, ATTEMPTS)
    }

    /// Like [`CallbackSender::send`], but each delivery is one attempt with no retry on a
    /// 5xx or a connection error: the style of providers that send a callback only once
    /// (wallet IPNs). A duplicate-callback fault still delivers it twice.
    pub fn send_once(&self, callback: Callback, faults: &FaultState) -> Option<JoinHandle<()>> {
        self.dispatch(callback, faults, 1)
    }

    fn dispatch(&self, callback: Callback, faults: &FaultState, attempts: u32) -> Option<JoinHandle<()>> {
        if faults.take_lost_callback() {
            self.counters.lost.fetch_add(1, Ordering::Relaxed);
            tracing::info!(url = %callback.url, "The sandbox dropped a callback on purpose (lost-callback fault).");
            return None;
        }
        let duplicate = faults.take_duplicate_callback();
        let delay = faults.callback_delay();
        let sender = self.clone();
        Some(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            sender.deliver(&callback, attempts).await;
            if duplicate {
                sender.counters.duplicated.fetch_add(1, Ordering::Relaxed);
                sender.deliver(&callback, attempts).await;
            }
        }))
    }

    /// What the sender has done since it was created or reset.
    pub fn stats(&self) -> CallbackStats {
        CallbackStats {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            lost: self.counters.lost.load(Ordering::Relaxed),
            duplicated: self.counters.duplicated.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Sets every count back to zero.
    pub fn reset_stats(&self) {
        for counter in [
            &self.counters.delivered,
            &self.counters.lost,
            &self.counters.duplicated,
            &self.counters.failed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// One delivery: up to `attempts` tries, retrying on 5xx and transport errors, each
    /// signed and stamped as it goes out.
    async fn deliver(&self, callback: &Callback, attempts: u32) {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=attempts {
            let Some(sealed) = callback.seal() else {
                tracing::warn!(url = %callback.url, "The sandbox could not write a callback.");
                break;
            };
            let mut request = self
                .http
                .post(&callback.url)
                .timeout(ATTEMPT_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(sealed.body);
            for (name, value) in &sealed.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let retry = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    tracing::warn!(url = %callback.url, status, attempt, "The gateway refused a sandbox callback.");
                    response.status().is_server_error()
                }
                Err(error) => {
                    tracing::warn!(url = %callback.url, %error, attempt, "A sandbox callback could not be delivered.");
                    true
                }
            };
            if !retry || attempt == attempts {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::Router;

    use super::*;
    use crate::faults::Faults;

    /// A receiver on 127.0.0.1 that answers every POST with `status` and counts the requests.
    async fn receiver(status: StatusCode) -> (String, Arc<AtomicU32>) {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/ipn",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async move { status }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/ipn"), hits)
    }

    fn callback(url: String) -> Callback {
        Callback::fixed(url, Vec::new(), br#"{"resultCode":0}"#.to_vec())
    }

    #[tokio::test]
    async fn send_once_makes_a_single_attempt_even_when_the_gateway_answers_5xx() {
        let (url, hits) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
        let sender = CallbackSender::new();
        sender
            .send_once(callback(url), &FaultState::default())
            .expect("not lost")
            .await
            .expect("the delivery task ends");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(sender.stats().failed, 1);
        assert_eq!(sender.stats().delivered, 0);
    }

    #[tokio::test]
    async fn send_once_still_honours_the_duplicate_and_lost_callback_faults() {
        let (url, hits) = receiver(StatusCode::NO_CONTENT).await;
        let sender = CallbackSender::new();
        let faults = FaultState::new(Faults {
            duplicate_next_callbacks: 1,
            ..Faults::default()
        });
        sender
            .send_once(callback(url.clone()), &faults)
            .expect("not lost")
            .await
            .expect("the delivery task ends");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert_eq!(sender.stats().delivered, 2);
        assert_eq!(sender.stats().duplicated, 1);

        faults.replace(Faults {
            lose_next_callbacks: 1,
            ..Faults::default()
        });
        assert!(sender.send_once(callback(url), &faults).is_none());
        assert_eq!(sender.stats().lost, 1);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn send_retries_a_5xx_answer() {
        let (url, hits) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
        let sender = CallbackSender::new();
        sender
            .send(callback(url), &FaultState::default())
            .expect("not lost")
            .await
            .expect("the delivery task ends");
        assert_eq!(hits.load(Ordering::SeqCst), ATTEMPTS);
        assert_eq!(sender.stats().failed, 1);
    }

    /// A callback whose attempts carry the instant they were sealed, as a header.
    fn stamped(url: String, sealed_at: Arc<std::sync::Mutex<Vec<std::time::Instant>>>) -> Callback {
        Callback::new(url, move || {
            let now = std::time::Instant::now();
            sealed_at.lock().unwrap_or_else(|p| p.into_inner()).push(now);
            Some(Sealed {
                headers: vec![("webhook-id".into(), "msg_1".into())],
                body: b"{}".to_vec(),
            })
        })
    }

    #[tokio::test]
    async fn a_delayed_callback_is_sealed_after_its_delay_and_again_for_each_retry_and_duplicate() {
        let (url, hits) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
        let sender = CallbackSender::new();
        let faults = FaultState::new(Faults {
            callback_delay_ms: 300,
            duplicate_next_callbacks: 1,
            ..Faults::default()
        });
        let sealed_at = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = std::time::Instant::now();
        sender
            .send(stamped(url, sealed_at.clone()), &faults)
            .expect("not lost")
            .await
            .expect("the delivery task ends");
        let sealed_at = sealed_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            sealed_at.len(),
            2 * ATTEMPTS as usize,
            "every attempt of both deliveries"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2 * ATTEMPTS);
        assert!(
            sealed_at
                .iter()
                .all(|at| at.duration_since(sent) >= Duration::from_millis(300)),
            "sealed before the delay ended: {sealed_at:?}"
        );
        assert!(sealed_at.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[tokio::test]
    async fn a_callback_that_cannot_be_written_counts_as_failed_without_a_request() {
        let (url, hits) = receiver(StatusCode::NO_CONTENT).await;
        let sender = CallbackSender::new();
        sender
            .send(Callback::new(url, || None), &FaultState::default())
            .expect("not lost")
            .await
            .expect("the delivery task ends");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        assert_eq!(sender.stats().failed, 1);
    }
}
