//! Retry delays with the jitter passed in, so that a decision and the time it schedules are
//! exact in tests.
//!
//! The schedule: a random value between half and all of `base · 2^(attempt-1)`, capped at
//! `backoff_max_ms`, which also caps any `Retry-After`. Only the random pick comes from outside.
//!
//! Written by hand on purpose, not with `backon` (which computes the in-process waits: the
//! AMQP reconnect in `amqp/mod.rs`, the supervisor's restarts in `supervise.rs`). A
//! payment's retries must survive a restart, so there is no loop here to drive: one delay is
//! computed from the attempt count the store keeps, and the store keeps the time. `backon`'s
//! `ExponentialBuilder` would fit badly: its iterator carries the state, so it would be
//! rebuilt and walked `attempt` times per call; its jitter adds up to 100% *after* the cap,
//! so a delay could reach twice `backoff_max_ms`; and it doubles in `f32` seconds, so the
//! delays are not exact to test.

use std::time::Duration;

use super::Policy;

/// Picks a whole number in `low..=high`: at random in the dispatcher (the random half spreads
/// out the retries of a batch that failed together), a fixed pick in tests. A pick outside
/// the range is brought back into it.
pub type Jitter = fn(u64, u64) -> u64;

impl Policy {
    /// The delay before retry number `attempt` (1-based), growing from `base_ms`.
    pub(super) fn backoff_ms(&self, attempt: i64, base_ms: u64) -> i64 {
        let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let ceiling = base_ms.saturating_mul(1u64 << exponent).min(self.backoff_max_ms).max(1);
        let low = ceiling / 2;
        as_ms((self.jitter)(low, ceiling).clamp(low, ceiling))
    }

    /// The delay after a transient error: the backoff for `attempt`, or the provider's
    /// `Retry-After` if that is longer — never more than `backoff_max_ms`, so a provider that
    /// asks for a year (or a number that overflows the clock) parks nothing for long.
    pub(super) fn transient_delay_ms(&self, attempt: i64, retry_after: Option<Duration>) -> i64 {
        let asked = retry_after.map_or(0, |wait| self.capped(wait));
        self.backoff_ms(attempt.max(1), self.backoff_base_ms).max(asked)
    }

    /// The delay after a `circuit_open` refusal: exactly the breaker's `retry_after` (when it
    /// will let a call through again), capped like any `Retry-After`; the backoff if it gave none.
    pub(super) fn circuit_open_delay_ms(&self, attempt: i64, retry_after: Option<Duration>) -> i64 {
        match retry_after {
            Some(wait) => self.capped(wait),
            None => self.backoff_ms(attempt.max(1), self.backoff_base_ms),
        }
    }

    fn capped(&self, wait: Duration) -> i64 {
        let asked = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        as_ms(asked.min(self.backoff_max_ms))
    }
}

fn as_ms(delay: u64) -> i64 {
    i64::try_from(delay).unwrap_or(i64::MAX)
}
