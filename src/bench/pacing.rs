//! The open-loop publishing schedule of `gateway bench --rate N`: order `i` is due `i / N`
//! seconds after the first publish, whatever the gateway does with the ones before it.

use std::time::Duration;

/// The shortest tick of the pacing interval: below it a busy 2-core machine only adds
/// wake-ups, and every tick publishes all orders that came due, so nothing is lost.
const MIN_TICK: Duration = Duration::from_millis(2);
/// The longest tick, so a slow rate still publishes each order close to its due time.
const MAX_TICK: Duration = Duration::from_millis(100);

/// How `gateway bench` publishes its orders.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Everything at once, then wait for the results (the default).
    Burst,
    /// Open loop at this many orders per second.
    Rate(f64),
}

impl Pacing {
    /// `--rate` if given (and above zero), the burst otherwise.
    pub fn from_rate(rate: Option<f64>) -> Self {
        match rate {
            Some(rate) if rate.is_finite() && rate > 0.0 => Self::Rate(rate),
            _ => Self::Burst,
        }
    }

    /// How many of `total` orders are due `elapsed` after the first publish: all of them in a
    /// burst; `floor(elapsed × rate) + 1` at a rate (order 0 is due at once).
    pub fn due_by(self, elapsed: Duration, total: usize) -> usize {
        match self {
            Self::Burst => total,
            Self::Rate(rate) => {
                let due = (elapsed.as_secs_f64() * rate).floor();
                if due >= total as f64 {
                    total
                } else {
                    (due as usize + 1).min(total)
                }
            }
        }
    }

    /// When order `index` is due, after the first publish (zero in a burst).
    pub fn due_at(self, index: usize) -> Duration {
        match self {
            Self::Burst => Duration::ZERO,
            Self::Rate(rate) => Duration::from_secs_f64(index as f64 / rate),
        }
    }

    /// The period of the pacing interval: one order's share of a second, within 2–100 ms.
    pub fn tick(self) -> Duration {
        match self {
            Self::Burst => MIN_TICK,
            Self::Rate(rate) => Duration::from_secs_f64(1.0 / rate).clamp(MIN_TICK, MAX_TICK),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_makes_orders_due_one_rate_step_apart() {
        let pacing = Pacing::Rate(1_000.0);
        assert_eq!(pacing.due_by(Duration::ZERO, 5_000), 1);
        assert_eq!(pacing.due_by(Duration::from_micros(999), 5_000), 1);
        assert_eq!(pacing.due_by(Duration::from_millis(1), 5_000), 2);
        assert_eq!(pacing.due_by(Duration::from_millis(250), 5_000), 251);
        assert_eq!(pacing.due_by(Duration::from_secs(4), 5_000), 4_001);
        assert_eq!(pacing.due_by(Duration::from_secs(3_600), 5_000), 5_000);
        assert_eq!(pacing.due_at(0), Duration::ZERO);
        assert_eq!(pacing.due_at(1_500), Duration::from_millis(1_500));
    }

    #[test]
    fn due_counts_never_go_back_and_reach_the_total() {
        let pacing = Pacing::Rate(333.0);
        let mut before = 0;
        for millis in 0..1_000 {
            let due = pacing.due_by(Duration::from_millis(millis), 200);
            assert!(due >= before);
            before = due;
        }
        assert_eq!(before, 200);
    }

    #[test]
    fn a_burst_makes_everything_due_at_once() {
        assert_eq!(Pacing::Burst.due_by(Duration::ZERO, 172_000), 172_000);
        assert_eq!(Pacing::Burst.due_at(171_999), Duration::ZERO);
    }

    #[test]
    fn the_tick_is_one_order_apart_within_bounds() {
        assert_eq!(Pacing::Rate(100.0).tick(), Duration::from_millis(10));
        assert_eq!(Pacing::Rate(1_000.0).tick(), MIN_TICK);
        assert_eq!(Pacing::Rate(0.5).tick(), MAX_TICK);
    }

    #[test]
    fn no_usable_rate_means_a_burst() {
        assert_eq!(Pacing::from_rate(None), Pacing::Burst);
        assert_eq!(Pacing::from_rate(Some(0.0)), Pacing::Burst);
        assert_eq!(Pacing::from_rate(Some(f64::NAN)), Pacing::Burst);
        assert_eq!(Pacing::from_rate(Some(1_000.0)), Pacing::Rate(1_000.0));
    }
}
