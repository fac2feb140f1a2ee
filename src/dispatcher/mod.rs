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

pub use backoff::retry_delay_ms;

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
    /// Bounds the payments leased at once, so a backlog of 170,000 is not leased in one go.
    in_flight: Arc<Semaphore>,
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
        let in_flight = Arc::new(Semaphore::new(per_provider * provider_permits.len().max(1) * 2));
        Self {
            store,
            adapters,
            settings,
            wake,
            relay_wake,
            provider_permits,
            in_flight,
            wallet_monthly_max: i64::try_from(limits.wallet_monthly_max).unwrap_or(i64::MAX),
        }
    }

    /// Runs until `shutdown`, then waits for the steps in progress to finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let tick = Duration::from_millis(self.settings.tick_ms.max(10));
        while !shutdown.is_cancelled() {
            let room = self.in_flight.available_permits() as i64;
            let leased = if room == 0 {
                Vec::new()
            } else {
                match self
                    .store
                    .lease_due(room.min(self.settings.batch_size), self.settings.lease_ms as i64)
                    .await
                {
                    Ok(leased) => leased,
                    Err(error) => {
                        tracing::error!(%error, "The dispatcher could not read due payments from the store.");
                        Vec::new()
                    }
                }
            };
            let full_batch = leased.len() as i64 >= self.settings.batch_size;
            for record in leased {
                let Ok(in_flight) = self.in_flight.clone().acquire_owned().await else {
                    break;
                };
                let provider = self.provider_permits.get(&record.provider).cloned();
                let dispatcher = self.clone();
                tracker.spawn(async move {
                    let _in_flight = in_flight;
                    let _provider = match provider {
                        Some(permits) => permits.acquire_owned().await.ok(),
                        None => None,
                    };
                    dispatcher.step(record).await;
                    dispatcher.relay_wake.notify_one();
                });
            }
            if full_batch {
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
}
