//! The one clock protection reads: tokio's, so paused time drives the limiter and the breaker in tests.

use std::time::Instant;

/// Now, by tokio's clock: the system's monotonic clock in production, and the paused, manually
/// advanced clock under `#[tokio::test(start_paused = true)]`. Outside a runtime it is the
/// system's clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// [`now`] as a `governor` clock, so the rate limiter and the sleeps it asks for agree on time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TokioClock;

impl governor::clock::Clock for TokioClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        now()
    }
}
