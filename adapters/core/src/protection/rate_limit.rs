//! The per-provider rate limit: governor's GCRA on tokio's clock, waited for without blocking a thread.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::clock::TokioClock;

type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Instant>>;

/// Paces one provider's requests: at most `per_second` in any one-second window when the burst
/// is 1, and up to `burst` back to back otherwise.
#[derive(Debug)]
pub(crate) struct RateLimit {
    limiter: DirectLimiter,
}

impl RateLimit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::direct_with_clock(quota(per_second, burst), TokioClock),
        }
    }

    /// Waits, asleep on tokio's timer, until one more request may go, and takes its place.
    /// Says whether it had to wait. Cancel-safe: a caller dropped while waiting took no place.
    pub async fn until_ready(&self) -> bool {
        let mut waited = false;
        loop {
            match self.limiter.check() {
                Ok(()) => return waited,
                Err(not_until) => {
                    waited = true;
                    tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
                }
            }
        }
    }
}

/// One request every `1 s / per_second`, rounded *up* to the nanosecond. `Quota::per_second`
/// rounds it down, so at 3/s it lets a fourth request into the same second
/// (3 × 333 333 333 ns < 1 s); rounding up keeps "at most R in any one-second window" true.
fn quota(per_second: NonZeroU32, burst: NonZeroU32) -> Quota {
    let interval_ns = 1_000_000_000_u64.div_ceil(u64::from(per_second.get()));
    Quota::with_period(Duration::from_nanos(interval_ns))
        .unwrap_or_else(|| Quota::per_second(per_second))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_rounded_up_so_a_second_never_holds_one_request_too_many() {
        for per_second in [1, 3, 7, 10, 30, 999] {
            let rate = NonZeroU32::new(per_second).expect("nonzero");
            let interval = quota(rate, NonZeroU32::MIN).replenish_interval();
            assert!(
                interval * per_second >= Duration::from_secs(1),
                "{per_second}/s: {interval:?}"
            );
            assert!(
                interval * per_second < Duration::from_secs(1) + Duration::from_micros(1),
                "{per_second}/s"
            );
        }
    }
}
