//! `ProviderGuard`: asks one provider's breaker and rate limiter before each request is sent.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::breaker::{Breaker, BreakerSettings, BreakerState, Refusal, Ticket};
use super::clock::now;
use super::config::ProtectionConfig;
use super::rate_limit::RateLimit;
use super::telemetry;
use crate::adapter::AdapterError;

/// The reason code of the error a guard answers while the breaker refuses calls.
pub const CIRCUIT_OPEN: &str = "circuit_open";

/// Protects one provider: a rate limit and a circuit breaker, shared by every call to it.
/// Build one per provider key at start-up and share it as `Arc<ProviderGuard>`; two guards for
/// one key would keep two breakers and write over each other's gauge.
pub struct ProviderGuard {
    /// `None` when the provider has no rate limit: calls never wait.
    rate_limit: Option<RateLimit>,
    /// Shared with every [`Admission`], which reports its call's answer to it.
    breaker: Arc<SharedBreaker>,
}

/// A breaker behind a lock (held for a few instructions, never across an `.await`), and the
/// provider key its metrics are labelled with.
struct SharedBreaker {
    provider: Arc<str>,
    breaker: Mutex<Breaker>,
}

impl SharedBreaker {
    /// Runs `change` on the breaker and publishes the transition it made, if any, while still
    /// holding the lock so the gauge cannot be left showing an older state.
    fn update<R>(&self, change: impl FnOnce(&mut Breaker) -> R) -> R {
        let mut breaker = self.lock();
        let generation = breaker.generation();
        let result = change(&mut breaker);
        if breaker.generation() != generation {
            telemetry::transitioned(&self.provider, breaker.state());
        }
        result
    }

    /// A panic elsewhere cannot leave the breaker half-updated (each change is one assignment
    /// of plain data), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ProviderGuard {
    /// A guard for `provider_key` (e.g. `viettel_money`), which names it in errors and metrics.
    /// Zero values are taken as 1 (see [`ProtectionConfig::validate`] to refuse them instead).
    pub fn new(provider_key: &str, config: ProtectionConfig) -> Self {
        let rate_limit = config.rate_limit_per_second.map(|per_second| {
            let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
            let burst = config.burst.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN);
            RateLimit::new(per_second, burst)
        });
        let breaker = Breaker::new(BreakerSettings::from(&config));
        telemetry::set_state(provider_key, breaker.state());
        Self {
            rate_limit,
            breaker: Arc::new(SharedBreaker {
                provider: provider_key.into(),
                breaker: Mutex::new(breaker),
            }),
        }
    }

    /// The provider key this guard protects.
    pub fn provider_key(&self) -> &str {
        &self.breaker.provider
    }

    /// Lets one request to the provider go, or refuses it without sending anything.
    ///
    /// The breaker is asked first, so an open circuit answers at once and never waits behind
    /// the rate limit; then the call waits (asynchronously) for its turn at the rate limit. A
    /// refusal is `AdapterError::Transient` with code [`CIRCUIT_OPEN`] and a `retry_after`:
    /// the time until half-open, or the open time while the half-open probes are out.
    /// Cancel-safe: dropping the future gives back whatever it had taken.
    pub async fn admit(&self) -> Result<Admission, AdapterError> {
        let admission = self.admission()?;
        let Some(rate_limit) = &self.rate_limit else {
            return Ok(admission);
        };
        if !rate_limit.until_ready().await {
            return Ok(admission);
        }
        telemetry::rate_limited(self.provider_key());
        if admission.is_current() {
            return Ok(admission);
        }
        // The breaker changed state while this call waited for the rate limit (it opened, most
        // likely): ask it again rather than send on a permission it has since withdrawn.
        drop(admission);
        self.admission()
    }

    fn admission(&self) -> Result<Admission, AdapterError> {
        match self.breaker.update(|breaker| breaker.admit(now())) {
            Ok(ticket) => Ok(Admission {
                breaker: Arc::clone(&self.breaker),
                ticket: Some(ticket),
            }),
            Err(refusal) => Err(self.circuit_open(refusal)),
        }
    }

    fn circuit_open(&self, refusal: Refusal) -> AdapterError {
        let provider = self.provider_key();
        let message = match refusal.state {
            BreakerState::HalfOpen => format!(
                "{provider}'s circuit breaker is half-open after repeated failures and its probe has \
                 not answered yet; nothing was sent"
            ),
            _ => format!("{provider}'s circuit breaker is open after repeated failures; nothing was sent"),
        };
        AdapterError::Transient {
            code: CIRCUIT_OPEN.into(),
            message,
            retry_after: Some(refusal.retry_after),
        }
    }

    /// Where the breaker stands now; an open breaker whose open time is over reports (and
    /// becomes) half-open.
    pub fn state(&self) -> BreakerState {
        self.breaker.update(|breaker| {
            breaker.tick(now());
            breaker.state()
        })
    }

    /// How long the breaker will refuse every call without sending it: the time left until
    /// half-open while it is open, `None` while closed or half-open. Cheap (one short lock),
    /// for a caller that would rather not hand the provider work it will only refuse. Like
    /// [`ProviderGuard::state`], moves an open breaker whose open time is over to half-open.
    pub fn unavailable_for(&self) -> Option<Duration> {
        self.breaker.update(|breaker| {
            let now = now();
            breaker.tick(now);
            breaker.open_for(now)
        })
    }
}

impl fmt::Debug for ProviderGuard {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ProviderGuard")
            .field("provider", &self.breaker.provider)
            .field("rate_limited", &self.rate_limit.is_some())
            .field("breaker", &self.breaker.lock().state())
            .finish()
    }
}

/// The permission to send one request, from [`ProviderGuard::admit`]. Report the answer with
/// [`Admission::record`]; dropping it unrecorded (a cancelled call) counts neither way.
#[must_use = "record the call's outcome with `Admission::record`, or it counts neither way"]
pub struct Admission {
    breaker: Arc<SharedBreaker>,
    /// Taken by `record`, so that `Drop` only cancels calls that were never recorded.
    ticket: Option<Ticket>,
}

impl Admission {
    /// Feeds the call's outcome to the breaker. `succeeded` is whether the *provider* worked:
    /// any answer it gave, a refusal (`Permanent`) included, is a success; a `Transient` error
    /// (connect failure, 408, 429, 5xx) or an `UnknownOutcome` (timeout after send) is a failure.
    pub fn record(mut self, succeeded: bool) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.update(|breaker| breaker.record(ticket, succeeded, now()));
        }
    }

    fn is_current(&self) -> bool {
        self.ticket.is_some_and(|ticket| self.breaker.lock().is_current(ticket))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.update(|breaker| breaker.cancel(ticket));
        }
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Admission")
            .field("provider", &self.breaker.provider)
            .field("ticket", &self.ticket)
            .finish()
    }
}
