//! Retry delays: exponential with full jitter, persisted as `next_attempt_at`.
//!
//! `backon` drives in-process retry loops (it reconnects to RabbitMQ); a payment's retries
//! must survive a restart, so only the delay is computed here and the store keeps the time.

use rand::Rng;

/// The delay before retry number `attempt` (1-based): a random value between half and all
/// of `base_ms · 2^(attempt-1)`, capped at `max_ms`. The random half spreads out retries of
/// a whole batch that failed together, the fixed half keeps a floor under fast retries.
pub fn retry_delay_ms(attempt: i64, base_ms: u64, max_ms: u64) -> u64 {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let ceiling = base_ms.saturating_mul(1u64 << exponent).min(max_ms).max(1);
    rand::rng().random_range(ceiling / 2..=ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        for attempt in 1..40 {
            let delay = retry_delay_ms(attempt, 100, 60_000);
            let ceiling = (100u64 << (attempt - 1).min(30)).min(60_000);
            assert!(delay <= ceiling && delay >= ceiling / 2, "attempt {attempt}: {delay}");
        }
    }
}
