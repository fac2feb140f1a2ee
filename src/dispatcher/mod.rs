//! The dispatcher: leases due payments from the store and drives each one step through its
//! state machine, with per-provider concurrency limits. The store is the source of truth;
//! nothing here is lost by a crash, because every step starts from what the store says.

mod limits;
mod step;
mod wakes;

pub use wakes::ProviderWakes;

use limits::ProviderLimits;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::DispatcherSettings;
use crate::order::ChannelLimits;
use crate::payment::lifecycle::Policy;
use crate::providers::Adapters;
use crate::store::{PaymentRecord, Store};

/// Drives payments. Cheap to share behind an `Arc`.
pub struct Dispatcher {
    store: Store,
    adapters: Adapters,
    settings: DispatcherSettings,
    /// The settings `payment::lifecycle` decides with, and the random jitter it spreads retries with.
    policy: Policy,
    /// Woken by intake when a payment is claimed, so new work does not wait for the tick: the
    /// claimed payment's provider's loop only.
    wakes: ProviderWakes,
    /// Woken after every step, so results are published promptly.
    relay_wake: Arc<Notify>,
    /// Each provider's step slots and call permits (see [`limits`]).
    providers: HashMap<String, ProviderLimits>,
    /// Credits one wallet may receive per calendar month, checked before anything is sent.
    wallet_monthly_max: i64,
}

impl Dispatcher {
    /// A dispatcher for `adapters`, whose calls take at most `timeouts` (by provider key, see
    /// [`crate::providers::ProvidersSettings::timeouts`]; both come from the same settings, and
    /// a provider missing there is held to the lease's margin alone).
    pub fn new(
        store: Store,
        adapters: Adapters,
        timeouts: &HashMap<String, Duration>,
        settings: DispatcherSettings,
        limits: &ChannelLimits,
        wakes: ProviderWakes,
        relay_wake: Arc<Notify>,
    ) -> Self {
        let providers = adapters
            .keys()
            .map(|key| {
                let timeout = timeouts.get(key).copied().unwrap_or_default();
                (
                    key.clone(),
                    ProviderLimits::new(key, settings.provider_concurrency, timeout),
                )
            })
            .collect::<HashMap<_, _>>();
        Self {
            store,
            adapters,
            policy: policy_from(&settings),
            settings,
            wakes,
            relay_wake,
            providers,
            wallet_monthly_max: i64::try_from(limits.wallet_monthly_max).unwrap_or(i64::MAX),
        }
    }

    /// Runs until `shutdown`, then waits for the steps in progress to finish.
    ///
    /// Each provider has a lease loop of its own, so that one provider's lease never waits for
    /// another's (a lease waits for the store's next group commit; six of them one after the
    /// other made every provider wait six commits between leases). A claim wakes the loop of
    /// the provider that pays it ([`ProviderWakes`]); a finished step wakes its own provider's
    /// loop, so its step slot is used again at once, not at the next tick.
    ///
    /// A provider's loop that ends before `shutdown` (a panic) ends the run, once the other
    /// loops stopped and the steps in progress finished: the supervisor then starts the
    /// dispatcher again and `/readyz` says so meanwhile. Left running without it, the other
    /// providers were paid and that provider's payments were never leased again, unseen. A
    /// loop's panic goes on as the run's own, so that `/readyz` says "it panicked" (returning,
    /// the run read as "it stopped on its own").
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let stop_loops = shutdown.child_token();
        let mut loops = tokio::task::JoinSet::new();
        let mut panicked = None;
        for (provider, limits) in &self.providers {
            let wake = self.wakes.of(provider);
            let (dispatcher, provider, slots) = (self.clone(), provider.clone(), limits.steps.clone());
            let floor = wake_floor(limits.step_slots, self.settings.batch_size);
            let (tracker, stop_loops) = (tracker.clone(), stop_loops.clone());
            loops.spawn(async move {
                dispatcher
                    .lease_loop(&provider, &slots, floor, &wake, &tracker, &stop_loops)
                    .await;
            });
        }
        tokio::select! {
            // A loop ends at shutdown too (its token is a child of it): that is no failure.
            biased;
            () = shutdown.cancelled() => {}
            Some(ended) = loops.join_next() => {
                if !shutdown.is_cancelled() {
                    let why = if ended.is_err() { "panicked" } else { "returned" };
                    tracing::error!(why, "A provider's lease loop ended; the dispatcher stops to be started again.");
                }
                panicked = ended.err().filter(|error| error.is_panic()).map(|error| error.into_panic());
                stop_loops.cancel();
            }
        }
        while loops.join_next().await.is_some() {}
        tracker.close();
        tracker.wait().await;
        if let Some(panic) = panicked {
            std::panic::resume_unwind(panic);
        }
    }

    /// Leases for one provider until `shutdown`: again at once after a full lease, else after
    /// a wake or the tick.
    ///
    /// A lease is a write (on PostgreSQL a transaction of its own), so a wake does not lease at
    /// once: it waits `dispatcher.lease_linger_ms`, so that the claims and finished steps of
    /// those moments share one lease, and then leases only if `floor` slots ([`wake_floor`])
    /// are free — while every slot is busy, each finished step would otherwise lease the one
    /// payment its slot makes room for. The tick leases for any free slot, so nothing waits
    /// longer than it.
    async fn lease_loop(
        self: &Arc<Self>,
        provider: &str,
        slots: &Arc<Semaphore>,
        floor: i64,
        wake: &Arc<Notify>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        let tick = Duration::from_millis(self.settings.tick_ms.max(10));
        let linger = Duration::from_millis(self.settings.lease_linger_ms);
        let mut fewest = 1;
        // The tick is kept apart from the wakes: a sleep made again after each wake never ran
        // out under a steady stream of them, and a payment then waited for `floor` free slots.
        let mut tick_at = tokio::time::Instant::now() + tick;
        while !shutdown.is_cancelled() {
            if fewest == 1 {
                tick_at = tokio::time::Instant::now() + tick;
            }
            if self.lease_for(provider, slots, fewest, wake, tracker).await {
                continue;
            }
            fewest = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(linger) => {
                            if tokio::time::Instant::now() >= tick_at { 1 } else { floor }
                        }
                    }
                }
                _ = tokio::time::sleep_until(tick_at) => 1,
            };
        }
    }

    /// Leases what is due now for every provider and runs those steps to completion, one
    /// after another; returns how many ran. For tests and tools that drive payments step by
    /// step without [`Dispatcher::run`]'s timers: a step that schedules its payment for now
    /// (settings with zero delays) is picked up by the next call, not by this one.
    pub async fn run_once(&self) -> usize {
        let mut ran = 0;
        for (provider, limits) in &self.providers {
            let slots = &limits.steps;
            if self.unavailable(provider) {
                continue;
            }
            let free = (slots.available_permits() as i64).min(self.settings.batch_size);
            let (leased, lease_ends) = self.lease(provider, free).await;
            for record in leased {
                // Leased within the free slots, so this waits only on a `run` beside it.
                let Ok(_slot) = slots.acquire().await else {
                    break;
                };
                self.step(record, lease_ends).await;
                ran += 1;
            }
        }
        if ran > 0 {
            self.relay_wake.notify_one();
        }
        ran
    }

    /// Leases as many due payments of one provider as it has free step slots, when at least
    /// `fewest` are free, and starts a step for each, holding its slot from the lease on (so no
    /// lease runs out while waiting for a slot, and a slow provider only ever fills its own);
    /// the step's calls take the provider's call permits as they go out (see [`limits`]). A
    /// finished step gives its slot back and wakes the provider's loop (`wake`). Returns true
    /// when it leased a full batch, so more may be due.
    async fn lease_for(
        self: &Arc<Self>,
        provider: &str,
        slots: &Arc<Semaphore>,
        fewest: i64,
        wake: &Arc<Notify>,
        tracker: &TaskTracker,
    ) -> bool {
        let free = (slots.available_permits() as i64).min(self.settings.batch_size);
        if free == 0 || free < fewest || self.unavailable(provider) {
            return false;
        }
        let started = std::time::Instant::now();
        let (leased, lease_ends) = self.lease(provider, free).await;
        metrics::histogram!("gateway_dispatcher_lease_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("gateway_dispatcher_lease_rows").record(leased.len() as f64);
        let full = leased.len() as i64 >= free;
        for record in leased {
            // Only this loop takes slots, and it leased no more than were free.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            let (dispatcher, wake) = (self.clone(), wake.clone());
            tracker.spawn(async move {
                dispatcher.step(record, lease_ends).await;
                drop(slot);
                dispatcher.relay_wake.notify_one();
                wake.notify_one();
            });
        }
        full
    }

    /// Whether `provider`'s circuit breaker is open, so that every call would be refused
    /// unsent. Its due payments are then left in the store untouched (not leased, no attempt
    /// counted, nothing failed) until the breaker lets a probe through; a provider without
    /// protection is never unavailable.
    fn unavailable(&self, provider: &str) -> bool {
        let Some(wait) = self
            .adapters
            .get(provider)
            .and_then(|adapter| adapter.unavailable_for())
        else {
            return false;
        };
        tracing::trace!(
            provider,
            wait_ms = wait.as_millis() as u64,
            "The provider's circuit breaker is open; nothing leased for it."
        );
        true
    }

    /// Up to `limit` due payments of `provider`, leased for `lease_ms`, and the instant their
    /// leases end at the earliest (the store takes the time for the lease later, in the group
    /// commit, so they end no sooner than `lease_ms` from now); none if the store fails.
    async fn lease(&self, provider: &str, limit: i64) -> (Vec<PaymentRecord>, Instant) {
        let lease_ends = Instant::now() + Duration::from_millis(self.settings.lease_ms);
        if limit <= 0 {
            return (Vec::new(), lease_ends);
        }
        match self
            .store
            .lease_due(provider, limit, self.settings.lease_ms as i64)
            .await
        {
            Ok(leased) => (leased, lease_ends),
            Err(error) => {
                tracing::error!(%error, provider, "The dispatcher could not read due payments from the store.");
                (Vec::new(), lease_ends)
            }
        }
    }
}

/// The fewest free step slots a wake leases for: a quarter of the provider's `slots`, at most
/// a batch. A step keeps its slot while it waits for the store and there are two slots per call
/// permit (see [`limits`]), so the calls do not run dry while a quarter of the slots wait to be
/// leased together.
fn wake_floor(slots: usize, batch_size: i64) -> i64 {
    (i64::try_from(slots / 4).unwrap_or(i64::MAX)).min(batch_size).max(1)
}

/// The dispatcher settings `payment::lifecycle` needs, with a random jitter.
fn policy_from(settings: &DispatcherSettings) -> Policy {
    Policy {
        max_attempts: settings.max_attempts,
        max_inquiries: settings.max_inquiries,
        backoff_base_ms: settings.backoff_base_ms,
        backoff_max_ms: settings.backoff_max_ms,
        inquiry_delay_ms: settings.inquiry_delay_ms,
        pending_poll_after_ms: settings.pending_poll_after_ms,
        pending_max_age_ms: settings.pending_max_age_ms,
        review_inquiry_after_ms: settings.review_inquiry_after_ms,
        lease_ms: settings.lease_ms,
        jitter: |low, high| rand::rng().random_range(low..=high.max(low)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_leases_once_a_quarter_of_the_slots_is_free_but_never_more_than_a_batch() {
        // (step slots, batch size) → the fewest free slots a wake leases for
        for (slots, batch_size, floor) in [
            (128, 256, 32), // the bench's 64 permits: two slots each
            (128, 16, 16),  // a batch smaller than a quarter
            (40, 64, 10),
            (3, 64, 1), // a provider allowed one call: any free slot
            (2, 64, 1),
            (0, 64, 1),
        ] {
            assert_eq!(
                wake_floor(slots, batch_size),
                floor,
                "{slots} slots, batches of {batch_size}"
            );
        }
    }
}
