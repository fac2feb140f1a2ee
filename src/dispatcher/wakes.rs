//! The dispatcher's wake-ups, one per provider: a claimed payment wakes the lease loop of the
//! provider that pays it, not every provider's.
//!
//! Each wake is a lease, and a lease is a write in the store's next group commit. With one
//! wake for all, every claim made all six providers' loops lease: at 200 orders/s, 6.7 leases
//! per order, 86% of them empty, and about 6.5 group commits per order where a busy gateway
//! makes a tenth of one (README, Performance).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

/// One wake per provider. Cheap to clone; clones share the wakes.
#[derive(Clone, Debug, Default)]
pub struct ProviderWakes(Arc<HashMap<String, Arc<Notify>>>);

impl ProviderWakes {
    /// A wake for each of `providers` (the configured providers' keys).
    pub fn new<'a>(providers: impl IntoIterator<Item = &'a String>) -> Self {
        Self(Arc::new(
            providers
                .into_iter()
                .map(|provider| (provider.clone(), Arc::new(Notify::new())))
                .collect(),
        ))
    }

    /// Wakes `provider`'s lease loop (or makes its next wait return at once). A provider
    /// without a wake has no loop to wake: nothing happens.
    pub fn wake(&self, provider: &str) {
        if let Some(wake) = self.0.get(provider) {
            wake.notify_one();
        }
    }

    /// The wake `provider`'s lease loop waits on; one of its own, that nothing else wakes, for
    /// a provider these wakes were not made for (its loop then leases at its tick).
    pub(super) fn of(&self, provider: &str) -> Arc<Notify> {
        self.0.get(provider).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn woken(wake: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wake.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_wake_reaches_its_own_providers_loop_and_no_other() {
        let providers = ["bank_transfer".to_string(), "viettel_money".to_string()];
        let wakes = ProviderWakes::new(&providers);
        let (bank, wallet) = (wakes.of("bank_transfer"), wakes.of("viettel_money"));

        wakes.clone().wake("viettel_money");
        assert!(woken(&wallet).await, "the claimed payment's provider leases at once");
        assert!(!woken(&bank).await, "the other providers are left alone");

        wakes.wake("not_configured");
        assert!(!woken(&bank).await && !woken(&wallet).await);
        assert!(
            !woken(&wakes.of("not_configured")).await,
            "an unknown provider's wake is its own"
        );
    }
}
