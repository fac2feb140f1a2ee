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
//!
//! A call goes out only if its answer (or its timeout) comes before the step's lease runs out,
//! with [`crate::config::LEASE_MARGIN_MS`] to spare: a lease that ran out while a call was out
//! would let another worker take the payment and call about it at the same time. So a call
//! waits for its permit no later than the lease's end less the provider's timeout and the
//! margin, and otherwise is not made ([`OutOfLease::NotMade`]); the payment is taken up again
//! when its lease has run out.
//!
//! A call that started in time is still cut short if it is out when its lease is a margin from
//! its end ([`OutOfLease::CutShort`]): its own timeout cannot take it there, but a wait inside
//! the adapter can (the provider's rate limit, after the permit). Dropping a call that may have
//! reached the provider is what a crash does, and is as safe: `submitting` was committed before
//! the submit went out, so the payment's next step is a status inquiry.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::SharedString;
use tokio::sync::Semaphore;

/// Steps one provider may have in progress per call permit.
const STEP_SLOTS_PER_CALL: usize = 2;

/// A call that did not answer within its step's lease; the step records nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OutOfLease {
    /// Not made: its answer could not have come before the lease ran out.
    NotMade,
    /// Made, and dropped unanswered a margin before the lease's end.
    CutShort,
}

/// One provider's step slots and call permits: a slow provider fills its own, not the others'.
#[derive(Debug)]
pub(super) struct ProviderLimits {
    /// The provider's key, for the permit wait's metric (shared: a label per call copies no
    /// string).
    provider: SharedString,
    /// Held by a step from its lease to its end; leases take no more payments than are free.
    pub steps: Arc<Semaphore>,
    /// How many step slots there are in all.
    pub step_slots: usize,
    /// Held by a call to the provider while it is out.
    calls: Semaphore,
    /// The longest a call may be out (the provider's `timeout_ms`) plus the lease margin: a
    /// call starts no later than this before its lease ends.
    longest_call: Duration,
}

/// How long before its lease's end a call still out is cut short.
const MARGIN: Duration = Duration::from_millis(crate::config::LEASE_MARGIN_MS);

impl ProviderLimits {
    /// Limits for `provider`, which allows `concurrency` calls at once, each out for at most
    /// `timeout`.
    pub fn new(provider: &str, concurrency: usize, timeout: Duration) -> Self {
        let concurrency = concurrency.max(1);
        let step_slots = concurrency * STEP_SLOTS_PER_CALL;
        Self {
            provider: SharedString::from_owned(provider.to_string()),
            steps: Arc::new(Semaphore::new(step_slots)),
            step_slots,
            calls: Semaphore::new(concurrency),
            longest_call: timeout + MARGIN,
        }
    }

    /// Runs `call` once a call permit is free, holding the permit until it answers, if it can
    /// still answer before `lease_ends`, and cuts it short if it is still out a margin before
    /// `lease_ends` (see the module docs). How long it waited goes to
    /// `gateway_provider_permit_wait_seconds{provider}`: waits that grow say the provider's
    /// concurrency, not the gateway, is what payouts wait for.
    pub async fn call<T>(&self, lease_ends: Instant, call: impl Future<Output = T>) -> Result<T, OutOfLease> {
        let waiting = Instant::now();
        let start_by = lease_ends.checked_sub(self.longest_call).unwrap_or(waiting);
        if waiting >= start_by {
            return Err(self.out_of_lease(OutOfLease::NotMade));
        }
        // The semaphore is never closed, so acquiring cannot fail; were it closed, the call
        // would go out unlimited rather than not at all.
        let Ok(_permit) = tokio::time::timeout_at(start_by.into(), self.calls.acquire()).await else {
            return Err(self.out_of_lease(OutOfLease::NotMade));
        };
        metrics::histogram!("gateway_provider_permit_wait_seconds", "provider" => self.provider.clone())
            .record(waiting.elapsed().as_secs_f64());
        let cut_at = lease_ends.checked_sub(MARGIN).unwrap_or(waiting);
        tokio::time::timeout_at(cut_at.into(), call)
            .await
            .map_err(|_| self.out_of_lease(OutOfLease::CutShort))
    }

    /// Counts a call not made or cut short for want of lease
    /// (`gateway_provider_calls_out_of_lease_total{provider, outcome}`).
    fn out_of_lease(&self, out: OutOfLease) -> OutOfLease {
        let outcome = match out {
            OutOfLease::NotMade => "not_made",
            OutOfLease::CutShort => "cut_short",
        };
        metrics::counter!("gateway_provider_calls_out_of_lease_total", "provider" => self.provider.clone(), "outcome" => outcome)
            .increment(1);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::oneshot;

    use super::*;

    /// The timeout of the providers here.
    const TIMEOUT: Duration = Duration::from_millis(50);

    /// A lease that ends `after` the longest a call may take (its timeout and the margin).
    fn lease_ending(after: Duration) -> Instant {
        Instant::now() + TIMEOUT + Duration::from_millis(crate::config::LEASE_MARGIN_MS) + after
    }

    /// Calls out at a provider allowing `concurrency` at once.
    fn calls_out(limits: &ProviderLimits, concurrency: usize) -> usize {
        concurrency - limits.calls.available_permits()
    }

    /// A provider allowing two calls has four step slots, and a third call waits until one of
    /// the first two has answered.
    #[tokio::test]
    async fn a_call_waits_for_a_permit_while_steps_have_slots_to_spare() {
        let limits = Arc::new(ProviderLimits::new("bank_transfer", 2, TIMEOUT));
        assert_eq!(limits.steps.available_permits(), 2 * STEP_SLOTS_PER_CALL);
        let mut answers = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..3 {
            let (answer, answered) = oneshot::channel::<()>();
            answers.push(answer);
            let limits = limits.clone();
            let lease_ends = lease_ending(Duration::from_secs(60));
            calls.push(tokio::spawn(async move {
                limits.call(lease_ends, answered).await.expect("in the lease").is_ok()
            }));
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

    /// A call whose answer (or timeout) could not come before its step's lease runs out, with
    /// the margin to spare, is not made: another worker could take the payment meanwhile.
    #[tokio::test]
    async fn a_call_that_could_not_answer_within_the_lease_is_not_made() {
        let limits = ProviderLimits::new("bank_transfer", 2, TIMEOUT);
        let made = AtomicBool::new(false);
        let call = async { made.store(true, Ordering::SeqCst) };
        let lease_ends = Instant::now() + TIMEOUT;
        assert_eq!(limits.call(lease_ends, call).await, Err(OutOfLease::NotMade));
        assert!(!made.load(Ordering::SeqCst), "the call was never sent");
        assert_eq!(calls_out(&limits, 2), 0);
    }

    /// A call waits for its permit only as long as its answer could still come within the
    /// lease; then it gives up, unmade, and the permit's holder is not disturbed.
    #[tokio::test]
    async fn a_call_waiting_for_a_permit_gives_up_when_the_lease_could_no_longer_cover_it() {
        let limits = Arc::new(ProviderLimits::new("bank_transfer", 1, TIMEOUT));
        let (answer, answered) = oneshot::channel::<()>();
        let first = {
            let limits = limits.clone();
            let lease_ends = lease_ending(Duration::from_secs(60));
            tokio::spawn(async move { limits.call(lease_ends, answered).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls_out(&limits, 1), 1, "the first call holds the only permit");

        let waited = Instant::now();
        let second = limits.call(lease_ending(Duration::from_millis(200)), async {});
        let second = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the wait for a permit ends with the lease, not with the permit");
        assert_eq!(second, Err(OutOfLease::NotMade));
        let waited = waited.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "it waited for a permit while the lease could cover it: {waited:?}"
        );

        answer.send(()).expect("the first call waits for its answer");
        assert!(first.await.expect("the call ran").expect("in the lease").is_ok());
        assert_eq!(calls_out(&limits, 1), 0);
    }

    /// A call that started in time but is still out a margin before its lease ends (here it
    /// waits forever, as behind a provider's rate limit) is cut short then, and its permit is
    /// given back: no call of a step outlives the step's lease.
    #[tokio::test]
    async fn a_call_still_out_when_the_lease_is_about_to_end_is_cut_short() {
        let limits = ProviderLimits::new("bank_transfer", 1, TIMEOUT);
        let lease_ends = lease_ending(Duration::from_millis(200));
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            limits.call(lease_ends, std::future::pending::<()>()),
        )
        .await
        .expect("the call is cut short, not waited for");
        assert_eq!(outcome, Err(OutOfLease::CutShort));
        let cut_after = started.elapsed();
        let cut_at = lease_ends - MARGIN - started;
        assert!(
            cut_after >= cut_at && cut_after < cut_at + Duration::from_secs(2),
            "cut a margin before the lease ends ({cut_at:?}), not at {cut_after:?}"
        );
        assert_eq!(calls_out(&limits, 1), 0, "the permit is given back");
    }
}
