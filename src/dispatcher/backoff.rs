//! Retry delays: exponential with jitter, persisted as `next_attempt_at`.
//!
//! Written by hand on purpose, not with `backon` (which computes the in-process waits: the
//! AMQP reconnect in `amqp/mod.rs`, the supervisor's restarts in `supervise.rs`). A
//! payment's retries must survive a restart, so there is no loop here to drive: one delay is
//! computed from the attempt count the store keeps, and the store keeps the time. `backon`'s
//! `ExponentialBuilder` would fit badly: its iterator carries the state, so it would be
//! rebuilt and walked `attempt` times per call; its jitter adds up to 100% *after* the cap,
//! so a delay could reach twice `backoff_max_ms` (the longest wait we promise, `Retry-After`
//! included); and it doubles in `f32` seconds, so the delays are not exact to test.

use std::time::Duration;

use rand::Rng;

/// The delay before retry number `attempt` (1-based): a random value between half and all
/// of `base_ms · 2^(attempt-1)`, capped at `max_ms`. The random half spreads out retries of
/// a whole batch that failed together, the fixed half keeps a floor under fast retries.
pub fn retry_delay_ms(attempt: i64, base_ms: u64, max_ms: u64) -> u64 {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let ceiling = base_ms.saturating_mul(1u64 << exponent).min(max_ms).max(1);
    rand::rng().random_range(ceiling / 2..=ceiling)
}

/// The delay before retrying after a transient error: the backoff for `attempt`, or the
/// provider's `Retry-After` if that is longer — but never more than `max_ms`, so a provider
/// that asks for a year (or sends a number that overflows the clock) parks nothing for long.
pub fn transient_retry_delay_ms(attempt: i64, retry_after: Option<Duration>, base_ms: u64, max_ms: u64) -> u64 {
    let asked = retry_after.map_or(0, |wait| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
    retry_delay_ms(attempt.max(1), base_ms, max_ms).max(asked.min(max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_is_honoured_up_to_the_backoff_cap() {
        let year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(transient_retry_delay_ms(1, Some(year), 100, 60_000), 60_000);
        assert_eq!(transient_retry_delay_ms(1, Some(Duration::MAX), 100, 60_000), 60_000);
        assert_eq!(
            transient_retry_delay_ms(1, Some(Duration::from_secs(30)), 100, 60_000),
            30_000
        );
        let none = transient_retry_delay_ms(1, None, 100, 60_000);
        assert!((50..=100).contains(&none), "{none}");
    }

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        for attempt in 1..40 {
            let delay = retry_delay_ms(attempt, 100, 60_000);
            let ceiling = (100u64 << (attempt - 1).min(30)).min(60_000);
            assert!(delay <= ceiling && delay >= ceiling / 2, "attempt {attempt}: {delay}");
        }
    }
}
