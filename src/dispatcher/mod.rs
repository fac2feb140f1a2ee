//! The dispatcher: leases due payments from the store and drives each one step through its
//! state machine, with per-provider concurrency limits. The store is the source of truth;
//! nothing here is lost by a crash, because every step starts from what the store says.

mod backoff;
mod step;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::DispatcherSettings;
use crate::order::ChannelLimits;
use crate::providers::Adapters;
use crate::store::Store;

pub use backoff::{retry_delay_ms, transient_retry_delay_ms};

/// Drives payments. Cheap to share behind an `Arc`.
pub struct Dispatcher {
    store: Store,
    adapters: Adapters,
    settings: DispatcherSettings,
    /// Woken by intake when a payment is claimed, so new work does not wait for the tick.
    wake: Arc<Notify>,
    /// Woken after every step, so results are published promptly.
    relay_wake: Arc<Notify>,
    /// One semaphore per provider: a slow provider fills its own permits, not the others'.
    provider_permits: HashMap<String, Arc<Semaphore>>,
    /// Credits one wallet may receive per calendar month, checked before anything is sent.
    wallet_monthly_max: i64,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        adapters: Adapters,
        settings: DispatcherSettings,
        limits: &ChannelLimits,
        wake: Arc<Notify>,
        relay_wake: Arc<Notify>,
    ) -> Self {
        let per_provider = settings.provider_concurrency.max(1);
        let provider_permits = adapters
            .keys()
            .map(|key| (key.clone(), Arc::new(Semaphore::new(per_provider))))
            .collect::<HashMap<_, _>>();
        Self {
            store,
            adapters,
            settings,
            wake,
            relay_wake,
            provider_permits,
            wallet_monthly_max: i64::try_from(limits.wallet_monthly_max).unwrap_or(i64::MAX),
        }
    }

    /// Runs until `shutdown`, then waits for the steps in progress to finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let tick = Duration::from_millis(self.settings.tick_ms.max(10));
        while !shutdown.is_cancelled() {
            let mut more_waiting = false;
            for (provider, permits) in &self.provider_permits {
                more_waiting |= self.lease_for(provider, permits, &tracker).await;
            }
            if more_waiting {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
        tracker.close();
        tracker.wait().await;
    }

    /// Leases as many due payments of one provider as it has free permits, and starts a step
    /// for each, holding its permit from the lease on (so no lease runs out while waiting for
    /// a permit, and a slow provider only ever fills its own permits). Returns true when it
    /// leased a full batch, so more may be due.
    async fn lease_for(self: &Arc<Self>, provider: &str, permits: &Arc<Semaphore>, tracker: &TaskTracker) -> bool {
        let free = (permits.available_permits() as i64).min(self.settings.batch_size);
        if free == 0 {
            return false;
        }
        let leased = match self
            .store
            .lease_due(provider, free, self.settings.lease_ms as i64)
            .await
        {
            Ok(leased) => leased,
            Err(error) => {
                tracing::error!(%error, provider, "The dispatcher could not read due payments from the store.");
                return false;
            }
        };
        let full = leased.len() as i64 >= free;
        for record in leased {
            // Only this loop takes permits, and it leased no more than were free.
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            let dispatcher = self.clone();
            tracker.spawn(async move {
                let _permit = permit;
                dispatcher.step(record).await;
                dispatcher.relay_wake.notify_one();
            });
        }
        full
    }
}
