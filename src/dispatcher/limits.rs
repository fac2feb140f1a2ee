//! Per-provider limits: how many calls may be at the provider at once, and how many payments
//! may be stepped at once.
//!
//! The provider's limit (`dispatcher.provider_concurrency`) is on calls in flight. A step also
//! waits for the store: the wallet's reservation, `submitting` before the submit and the answer
//! after it each wait for a group commit. Were the call permit held for the whole step, those
//! waits would hold it too, and the provider would see far fewer calls than it allows (at 50 ms
//! a step held its permit about twice as long as its calls took). So a step holds a *step slot*
//! from its lease to its end, and a call permit only while a call is out; there are
//! [`STEP_SLOTS_PER_CALL`] slots per permit, enough to keep the permits busy while the other
//! steps wait for commits, and few enough that a step waits for a permit about one call's time,
//! far inside its lease.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use metrics::SharedString;
use tokio::sync::Semaphore;

/// Steps one provider may have in progress per call permit.
const STEP_SLOTS_PER_CALL: usize = 2;

/// One provider's step slots and call permits: a slow provider fills its own, not the others'.
#[derive(Debug)]
pub(super) struct ProviderLimits {
    /// The provider's key, for the permit wait's metric (shared: a label per call copies no
    /// string).
    provider: SharedString,
    /// Held by a step from its lease to its end; leases take no more payments than are free.
    pub steps: Arc<Semaphore>,
    /// Held by a call to the provider while it is out.
    calls: Semaphore,
}

impl ProviderLimits {
    /// Limits for `provider`, which allows `concurrency` calls at once.
    pub fn new(provider: &str, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            provider: SharedString::from_owned(provider.to_string()),
            steps: Arc::new(Semaphore::new(concurrency * STEP_SLOTS_PER_CALL)),
            calls: Semaphore::new(concurrency),
        }
    }

    /// Runs `call` once a call permit is free, holding the permit until it answers. How long
    /// it waited goes to `gateway_provider_permit_wait_seconds{provider}`: waits that grow
    /// say the provider's concurrency, not the gateway, is what payouts wait for.
    pub async fn call<T>(&self, call: impl Future<Output = T>) -> T {
        let waiting = Instant::now();
        // The semaphore is never closed, so acquiring cannot fail; were it closed, the call
        // would go out unlimited rather than not at all.
        let _permit = self.calls.acquire().await.ok();
        metrics::histogram!("gateway_provider_permit_wait_seconds", "provider" => self.provider.clone())
            .record(waiting.elapsed().as_secs_f64());
        call.await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// Calls out at a provider allowing `concurrency` at once.
    fn calls_out(limits: &ProviderLimits, concurrency: usize) -> usize {
        concurrency - limits.calls.available_permits()
    }

    /// A provider allowing two calls has four step slots, and a third call waits until one of
    /// the first two has answered.
    #[tokio::test]
    async fn a_call_waits_for_a_permit_while_steps_have_slots_to_spare() {
        let limits = Arc::new(ProviderLimits::new("bank_transfer", 2));
        assert_eq!(limits.steps.available_permits(), 2 * STEP_SLOTS_PER_CALL);
        let mut answers = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..3 {
            let (answer, answered) = oneshot::channel::<()>();
            answers.push(answer);
            let limits = limits.clone();
            calls.push(tokio::spawn(async move { limits.call(answered).await.is_ok() }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls_out(&limits, 2), 2, "two calls out, the third waits");
        let first = answers.remove(0);
        first.send(()).expect("the first call waits for its answer");
        assert!(calls.remove(0).await.expect("the call ran"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            calls_out(&limits, 2),
            2,
            "the third call went out when the first answered"
        );
        for answer in answers {
            answer.send(()).expect("the call waits for its answer");
        }
        for call in calls {
            assert!(call.await.expect("the call ran"));
        }
        assert_eq!(calls_out(&limits, 2), 0);
    }
}
